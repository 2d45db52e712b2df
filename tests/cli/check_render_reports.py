# Properties of `lavr render --summary-json` and `--trace` files (tests/cli/render_reports.cmake).
# usage: check_render_reports.py SUMMARY EXIT RANKS [--frames N] [--trace TRACE]
#   SUMMARY's exit is EXIT (finished, stopped, failed) with its exit code; a finished or stopped render's
#   summary lists ranks 0..RANKS-1 with roles; --frames: its frame count (ffprobe's); --trace: every rank
#   has a named track, its slices are ordered and nested (never partly overlapping), DiT ranks have one
#   forward slice per forward of the summary, the aux rank decode and encode slices for the frames.
import argparse
import json
import sys

p = argparse.ArgumentParser()
p.add_argument("summary")
p.add_argument("exit")
p.add_argument("ranks", type=int)
p.add_argument("--frames", type=int)
p.add_argument("--trace")
p.add_argument("--exit-code", type=int)
p.add_argument("--message")
args = p.parse_args()
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


s = json.load(open(args.summary))
codes = {"finished": 0, "stopped": 75, "failed": 1}
check(s["exit"] == args.exit, f"exit is {s['exit']}, expected {args.exit}")
check(s["exit_code"] == (args.exit_code if args.exit_code is not None else codes[args.exit]),
      f"exit_code {s['exit_code']}")
if args.message:
    check(s["message"] is not None and args.message in s["message"], f"message {s['message']!r}")
if args.exit == "failed":
    check(isinstance(s["origin"], str) and ".c:" in s["origin"], f"origin {s['origin']!r}")
    check(s["message"] is not None and ".c:" not in s["message"], f"message keeps its origin: {s['message']!r}")
    check(len(s["ranks"]) >= 1 and s["ranks"][0]["rank"] == s["written_by_rank"], "the writer's own row")
else:
    check([r["rank"] for r in s["ranks"]] == list(range(args.ranks)), f"ranks {[r['rank'] for r in s['ranks']]}")
    roles = [r["role"] for r in s["ranks"]]
    check(all(r.startswith("dit s") for r in roles[:-1]) and roles[-1] == "aux", f"roles {roles}")
    for r in s["ranks"]:
        check(r["busy_percent"] is not None and 0 < r["busy_percent"] <= 100, f"rank {r['rank']} busy {r['busy_percent']}")
        check(r["peak_rss_mib"] > 0 and (r["forwards"] > 0) == (r["role"] != "aux"), f"rank {r['rank']} forwards/peak")
    check(s["fps"] > 0 and abs(s["realtime_factor"] - s["fps"] / 25) < 1e-3, f"fps {s['fps']} rtf {s['realtime_factor']}")
    check(abs(s["video_seconds"] - s["frames"] / 25) < 1e-3, "video_seconds")
    check(abs(s["setup_seconds"] + s["render_seconds"] - s["wall_seconds"]) < 2e-3, "setup + render = wall")
    if args.exit == "stopped":
        check(s["blocks_done"] < s["blocks"], f"stopped after {s['blocks_done']} of {s['blocks']} blocks")
        check("checkpoint" in (s["message"] or ""), f"message {s['message']!r}")
if args.frames is not None:
    check(s["frames"] == args.frames, f"frames {s['frames']}, the video has {args.frames}")

if args.trace:
    t = json.load(open(args.trace))
    events = t["traceEvents"]
    names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    check(sorted(names) == list(range(args.ranks)), f"tracks {sorted(names)}")
    for pid, name in names.items():
        check(name.startswith(f"r{pid} "), f"track {pid} is named {name!r}")
    slices = [e for e in events if e["ph"] == "X"]
    check(all(e["dur"] >= 0 and e["tid"] == 0 for e in slices), "negative durations or other threads")
    check({"forward", "decode", "encode", "send", "wait"} <= {e["name"] for e in slices},
          f"slice names {sorted({e['name'] for e in slices})}")
    for pid in names:
        mine = [e for e in slices if e["pid"] == pid]
        starts = [e["ts"] for e in mine]
        check(starts == sorted(starts), f"rank {pid}: slices not ordered by start")
        stack = []  # ends of the open enclosing slices
        for e in mine:
            end = e["ts"] + e["dur"]
            while stack and stack[-1] <= e["ts"]:
                stack.pop()
            if stack and end > stack[-1] + 1e-6:
                problems.append(f"rank {pid}: {e['name']} at {e['ts']} overlaps the slice around it")
                break
            stack.append(end)
        if args.exit != "failed":
            row = s["ranks"][pid]
            forwards = sum(1 for e in mine if e["name"] == "forward")
            if row["role"].startswith("dit"):
                check(forwards == row["forwards"], f"rank {pid}: {forwards} forward slices, {row['forwards']} forwards")
            else:
                decoded = sum(e["args"]["frames"] for e in mine if e["name"] == "decode")
                encoded = sum(e["args"]["frames"] for e in mine if e["name"] == "encode")
                check(decoded == encoded == s["frames"], f"aux: {decoded} decoded, {encoded} encoded, {s['frames']} frames")
    check(all(v == 0 for v in t["otherData"]["dropped_slices"].values()), "dropped slices")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"reports-ok {args.exit}")
