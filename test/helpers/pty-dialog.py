# Drive an interactive program through a real pseudo-terminal, as a person would: each answer is
# typed (with Enter) once the output ends with the prompt it answers. The spec comes as JSON on
# stdin, never on the command line, so that answers (secrets) stay out of the process list:
#   {"argv": [...], "env": {...}, "steps": [[prompt, answer], ...], "timeout": seconds}
# Prints JSON: {"out": everything the program wrote, "left": steps not reached, "code": exit code
# or null when it had to be killed at the timeout}.
import json, os, pty, select, signal, sys, time

spec = json.load(sys.stdin)
env = dict(os.environ)
env.update(spec.get("env", {}))
for k in spec.get("unset", []):
    env.pop(k, None)
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(spec["argv"][0], spec["argv"], env)

out = b""
pending = b""
steps = list(spec["steps"])
deadline = time.time() + spec.get("timeout", 30)
killed = False
while True:
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        killed = True
        break
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO: the program closed the terminal (exited)
        break
    if not data:
        break
    out += data
    pending += data
    if steps and pending.endswith(steps[0][0].encode()):
        if steps[0][0].endswith("password:"):
            # rclone turns echo off only once it reads: a password typed at once would be echoed
            time.sleep(0.3)
        os.write(fd, (steps[0][1] + "\r").encode())
        steps.pop(0)
        pending = b""
_, status = os.waitpid(pid, 0)
os.close(fd)
code = None if killed else os.waitstatus_to_exitcode(status)
sys.stdout.write(json.dumps({"out": out.decode("utf8", "replace"), "left": len(steps), "code": code}))
