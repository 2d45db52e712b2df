# Developer probe for the GPU machine: PyTorch's cuDNN conv3d at the Wan VAE decoder's 704*384 shapes (channels-last
# bf16, heuristics and cudnn.benchmark), the comparison of BENCHMARKS.md's per-shape table. Usage: python3 scripts/torch-conv-probe.py
import torch
def run(cin, cout, T, H, W, bench):
    torch.backends.cudnn.benchmark = bench
    x = torch.randn(1, cin, T, H, W, device='cuda', dtype=torch.bfloat16).to(memory_format=torch.channels_last_3d)
    w = (torch.randn(cout, cin, 3, 3, 3, device='cuda', dtype=torch.bfloat16) * 0.02).to(memory_format=torch.channels_last_3d)
    f = lambda: torch.nn.functional.conv3d(x, w, padding=(0, 1, 1))
    with torch.no_grad():
        for _ in range(5): y = f()
        torch.cuda.synchronize()
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(20): y = f()
        e.record(); torch.cuda.synchronize()
    ms = s.elapsed_time(e) / 20
    flop = 2 * cin * cout * 27 * y.shape[2] * y.shape[3] * y.shape[4]
    print(f"{cin:4d}->{cout:4d} over {T}x{H}x{W} benchmark={bench}: {ms:7.3f} ms {flop / ms / 1e9:6.1f} TFLOP/s", flush=True)
print(torch.__version__, torch.backends.cudnn.version())
for bench in (False, True):
    for shp in ((96, 96, 14, 384, 704), (192, 192, 14, 192, 352), (384, 384, 8, 96, 176), (96, 8, 14, 384, 704), (96, 3, 14, 384, 704)):
        run(*shp, bench)
