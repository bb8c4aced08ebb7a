"""The ``uid`` level's own mount namespace for a kernel (needs root): `isolate_filesystem`.

Stdlib only, never imported through the grader package: `launcher.py` loads it by
path on first use (`launcher._mountns`), handing over its `_libc`. Only the ``uid``
level uses it, and that level runs outside bubblewrap, where this file is there;
inside bubblewrap only the grader's scripts that run there are bound, and this is
not one of them.
"""

import ctypes
import os

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 1 << 14, 1 << 18
#: world-writable scratch space: at the ``uid`` level each kernel gets an empty one of its own
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
#: never covered at the ``uid`` level, nor anything above them (a folder to hide given as "/")
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/dev", "/proc", "/sys", "/run")

# launcher.py's libc loader, handed over by `launcher._mountns` before this runs
_libc = globals()["_libc"]


def _mount(source, target, fstype, flags: int, data=None) -> None:
    enc = lambda v: v.encode() if isinstance(v, str) else v    # noqa: E731
    if _libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount on {target}: {os.strerror(err)}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _blocked_above(path: str) -> list:
    """Folders above `path` that other users may not pass (no o+x, like /root): a kernel
    of its own uid could not reach a Python installed below them."""
    blocked, here = [], "/"
    for part in path.strip("/").split("/")[:-1]:
        here = os.path.join(here, part)
        try:
            if not os.stat(here).st_mode & 0o001:
                blocked.append(here)
        except OSError:
            break
    return blocked


def _cover(path: str, mode: str, size_mb: int) -> None:
    """An empty tmpfs over a folder (root's, `mode`), /dev/null over a file."""
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={size_mb}m")
    else:
        _mount("/dev/null", path, None, MS_BIND)


def isolate_filesystem(spec: dict) -> None:
    """Enter a mount namespace of our own in which every folder of `spec["hide"]` (the
    course's rubrics, solutions and config folder, the batch's output, the submissions'
    folders) is an empty root-owned tmpfs, /tmp, /var/tmp and /dev/shm are empty and
    private, and the folders of `spec["keep"]` (this Python, the kernel's own folder) are
    bound back where a cover hid them. Nothing mounted here is seen outside. Run as root,
    before `become_user`."""
    real = lambda p: os.path.realpath(p)    # noqa: E731
    keep = []
    for p in sorted({real(p) for p in (*spec["keep"], spec["own"]) if os.path.exists(p)}, key=len):
        if not any(_inside(p, k) for k in keep):
            keep.append(p)
    hide = sorted({real(p) for p in spec.get("hide", ()) if os.path.exists(p)})   # not there: nothing to hide
    hide = [h for h in hide if h != "/" and not any(_inside(s, h) for s in SYSTEM)]
    if _libc().unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)      # nothing we mount propagates back
    # the real folders, held before the covers (opened in the new namespace: a bind mount
    # from another namespace's mount is refused)
    held = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in keep}
    scratch = [s for s in SCRATCH if os.path.isdir(s)]
    covers = []
    for c in sorted({*hide, *scratch, *(b for k in keep for b in _blocked_above(k))}, key=len):
        if not any(_inside(c, done) for done in covers):
            covers.append(c)
    for c in covers:
        if c in scratch:
            _cover(c, "1777", int(spec.get("tmp_mb", 256)))
        else:
            _cover(c, "0755", 1)
    os.umask(0o022)        # the folders made below must let the kernel's uid pass
    for path, fd in held.items():
        if any(_inside(path, c) for c in covers):
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    for h in hide:        # a hidden folder inside one bound back (a course kept in the venv)
        if any(_inside(h, k) for k in keep):
            _cover(h, "0755", 1)
    try:   # a /proc on which the kernel sees its own processes only (Linux 5.8 on)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    except OSError:
        pass     # older kernels: it sees every pid, but can read or signal none of another uid
