# Help conventions of every lavr command (tests/cli/core.cmake): `lavr CMD -h` and `--help` print the
# same help and exit 0; the usage lines name every option of the options list; every value-taking
# option has a metavar that says what it takes (never the generic VALUE).
import re
import subprocess
import sys

lavr = sys.argv[1]
top = subprocess.run([lavr, "--help"], capture_output=True, text=True, check=True).stdout
commands = re.findall(r"^  ([a-z][a-z-]+) ", top, re.M)
assert len(commands) >= 15, f"too few commands in lavr --help: {commands}"
failures = []
for argv in [[c] for c in commands] + [["bench", "--vae"], ["bench", "--encoders"]]:
    short = subprocess.run([lavr, *argv, "-h"], capture_output=True, text=True)
    long = subprocess.run([lavr, *argv, "--help"], capture_output=True, text=True)
    name = " ".join(argv)
    if short.returncode != 0 or long.returncode != 0:
        failures.append(f"{name}: -h exit {short.returncode}, --help exit {long.returncode}: {short.stderr.strip()}")
        continue
    if short.stdout != long.stdout:
        failures.append(f"{name}: -h and --help print different text")
    text = short.stdout
    if not text.startswith("usage: "):
        failures.append(f"{name}: help does not start with 'usage: '")
        continue
    usage, _, options = text.partition("\noptions:\n")
    listed = re.findall(r"^  --([a-z0-9-]+)(?: (\S+))?", options, re.M)
    if not listed:
        failures.append(f"{name}: no options listed")
    # the usage lines: up to the first line that is neither the first nor indented
    lines = usage.split("\n")
    synopsis = [lines[0]] + [l for l in __import__("itertools").takewhile(lambda l: l.startswith(" "), lines[1:])]
    synopsis = "\n".join(synopsis)
    for opt, metavar in listed:
        if not re.search(r"--" + re.escape(opt) + r"(?![a-z0-9-])", synopsis):
            failures.append(f"{name}: usage lines do not name --{opt}")
        if metavar == "VALUE":
            failures.append(f"{name}: --{opt} takes a generic VALUE")
print(f"checked {len(commands) + 2} commands")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("help-conventions-ok")
