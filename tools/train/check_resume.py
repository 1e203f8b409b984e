"""Checks that train.py --resume continues a killed run exactly (a small model, about a minute).

    /usr/bin/python3 tools/train/check_resume.py [--data-dir build/train-data]

Trains a small configuration of the ghost-small preset straight through, then trains it
again, kills that run (SIGKILL) once its first checkpoint is on disk, resumes it with
--resume and compares the two final checkpoints: every weight must be bitwise equal.
The configuration crosses the decay and long-sequence phases after the kill. Then it
branches a cooldown off the killed run's first state with a shorter --steps (allowed: the
state is before the decay of both targets), and checks that changing --steps from the
finished state (inside the decay) is refused; and that a ternary-QAT branch (--resume-from
with --qat-ternary-block) trains, while turning QAT on in a plain --resume is refused.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import torch

TRAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py")
SMALL = ["--preset", "small", "--hidden-size", "64", "--intermediate-size", "128", "--layers", "2",
         "--heads", "4", "--kv-heads", "2", "--steps", "40", "--batch-size", "2", "--seq-len", "64",
         "--long-seq-len", "128", "--long-fraction", "0.25", "--warmup-steps", "4", "--log-every", "10"]


def run(data_dir, out, *extra):
    return subprocess.run([sys.executable, TRAIN, *SMALL, "--data-dir", data_dir, "--out", out, *extra],
                          check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="build/train-data")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"ghost-resume-{os.getpid()}-") as tmp:
        straight = os.path.join(tmp, "straight", "checkpoint.pt")
        run(args.data_dir, straight)

        resumed = os.path.join(tmp, "resumed", "checkpoint.pt")
        state = os.path.join(tmp, "resumed", "train-state.pt")
        proc = subprocess.Popen([sys.executable, TRAIN, *SMALL, "--data-dir", args.data_dir, "--out", resumed,
                                 "--checkpoint-minutes", "0"], stdout=subprocess.DEVNULL)
        while not os.path.exists(state) and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = torch.load(state)["step"]
        state_at_kill = os.path.join(tmp, "state-at-kill.pt")
        shutil.copyfile(state, state_at_kill)
        if os.path.exists(resumed) or killed_at >= 15:
            raise SystemExit(f"the run was not killed early enough (step {killed_at}); rerun")
        log = run(args.data_dir, resumed, "--resume")

        a, b = torch.load(straight)["model"], torch.load(resumed)["model"]
        mismatched = [name for name in a if not torch.equal(a[name], b[name])]
        print(log.splitlines()[0])
        print(f"killed at step {killed_at} of 40, resumed: {len(a) - len(mismatched)}/{len(a)} tensors bitwise equal")
        if mismatched:
            raise SystemExit(f"resume diverged: {mismatched[:5]}")

        branch = os.path.join(tmp, "branch", "checkpoint.pt")
        run(args.data_dir, branch, "--resume-from", state_at_kill, "--steps", "20")
        if torch.load(branch)["steps"] != 20:
            raise SystemExit("the cooldown branch did not train to its own target")
        refused = subprocess.run([sys.executable, TRAIN, *SMALL, "--data-dir", args.data_dir, "--out", branch,
                                  "--resume-from", state, "--steps", "80"], capture_output=True, text=True)
        if refused.returncode == 0 or "--steps can change only before" not in refused.stderr:
            raise SystemExit(f"changing --steps inside the decay was not refused: {refused.stderr}")
        print("cooldown branch to 20 steps from the early state: ok; --steps changed inside the decay: refused")

        qat = os.path.join(tmp, "qat", "checkpoint.pt")
        log = run(args.data_dir, qat, "--resume-from", state_at_kill, "--steps", "20", "--qat-ternary-block", "32")
        if "ternary QAT: 14 projections" not in log:
            raise SystemExit(f"the QAT branch did not quantize the 14 projections: {log.splitlines()[:3]}")
        plain, ternary = torch.load(branch)["model"], torch.load(qat)["model"]
        if all(torch.equal(plain[name], ternary[name]) for name in plain):
            raise SystemExit("the QAT branch trained exactly like the plain branch")
        refused = subprocess.run([sys.executable, TRAIN, *SMALL, "--data-dir", args.data_dir, "--out", resumed,
                                  "--resume", "--qat-ternary-block", "32"], capture_output=True, text=True)
        if refused.returncode == 0 or "--qat-ternary-block is 32" not in refused.stderr:
            raise SystemExit(f"turning QAT on in a --resume was not refused: {refused.stderr}")
        print("ternary-QAT branch from the early state: ok; QAT turned on by --resume: refused")


if __name__ == "__main__":
    main()
