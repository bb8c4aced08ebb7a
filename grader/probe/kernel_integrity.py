# This file is NOT imported by the grader: like kernel_side.py, its text is sent to
# the student's kernel (grader/probe/session.py joins the two, this one first). It
# defines `_grader_probe_integrity`, which kernel_side.py's factory calls once for the
# class that checks what the probe relies on; the grader deletes both names at once.
# A file of its own because it is a job of its own: what may not be replaced, and how
# a replacement is recognised, apart from how requests are answered.
def _grader_probe_integrity():
    import base64
    import json

    class Integrity:
        """What the probe relies on, checked where it runs. The report of a call (the
        autograd count above all) passes through json, base64, IPython's display of
        the reply and the session that sends it, and the count through torch's
        autograd entry points. A notebook may configure anything else (display
        options, printoptions, seeds, warnings, magics); it may not replace these.

        At install each object must be genuine: a function of the library that
        defines it (its globals are that module's namespace; a notebook's own
        function, wrapper or partial fails), and a canary reply must come out of
        the whole path unchanged. At every call each must still be the object
        seen at install. `problems()` names what failed.

        torch's entry points join when the probe first needs torch (`add_torch`): at install
        when the notebook imported it, else at the first tensor or the first call that
        imports it. A notebook that never imported torch cannot have replaced them."""

        def __init__(self):
            import sys
            import IPython
            self.modules = sys.modules
            shell = IPython.get_ipython()
            hook = getattr(shell, "displayhook", None)
            self.relied, self.seen, self.at_install = {}, {}, []
            self.watch(self.relied_on(sys, shell))
            if hook is not None and sys.displayhook is not hook:
                self.at_install.append("sys.displayhook")
            if not self.canary_passes(shell):
                self.at_install.append("the probe's reply path (a canary reply came out changed)")

        def watch(self, relied):
            """Check each of `relied` now (genuine) and from now on (the same object)."""
            for name, (read, home) in relied.items():
                self.relied[name] = (read, home)
                try:
                    obj = read()
                except Exception:
                    self.at_install.append(name)
                    continue
                self.seen[name] = self.unwrap(obj)
                if home is not None and not self.genuine(obj, home):
                    self.at_install.append(name)

        def add_torch(self, torch):
            """torch's autograd entry points: the watch counts autograd use through them."""
            import torch.autograd.forward_ad as fwad
            self.watch({
                "torch.autograd._engine_run_backward": (lambda: torch.autograd._engine_run_backward,
                                                        ("torch.autograd",)),
                "torch.autograd.backward": (lambda: torch.autograd.backward, ("torch.autograd",)),
                "torch.autograd.grad": (lambda: torch.autograd.grad, ("torch.autograd",)),
                "torch.Tensor.backward": (lambda: torch.Tensor.backward, ("torch",)),
                "torch.autograd.forward_ad.make_dual": (lambda: fwad.make_dual, ("torch.autograd",)),
            })

        @staticmethod
        def relied_on(sys, shell):
            """name -> (how to read it now, the packages its code must belong to; None:
            identity only)."""
            hook = getattr(shell, "displayhook", None)
            formatter = getattr(shell, "display_formatter", None)
            jupyter = ("IPython", "ipykernel", "jupyter_client")
            relied = {
                "json.dumps": (lambda: json.dumps, ("json",)),
                "json.loads": (lambda: json.loads, ("json",)),
                "json._default_encoder": (lambda: json._default_encoder, None),
                "json.JSONEncoder.encode": (lambda: json.JSONEncoder.encode, ("json",)),
                "json.JSONEncoder.iterencode": (lambda: json.JSONEncoder.iterencode, ("json",)),
                "base64.b64encode": (lambda: base64.b64encode, ("base64",)),
                "base64.b64decode": (lambda: base64.b64decode, ("base64",)),
                "base64.binascii": (lambda: base64.binascii, None),
                # inside a cell IPython's display trap puts the shell's hook there
                "sys.displayhook": (lambda: sys.displayhook, None),
            }
            if hook is not None and formatter is not None:
                relied.update({
                    "get_ipython().displayhook": (lambda: shell.displayhook, None),
                    "get_ipython().displayhook.__call__": (lambda: hook.__call__, jupyter),
                    "get_ipython().displayhook.write_format_data": (lambda: hook.write_format_data, jupyter),
                    "get_ipython().displayhook.compute_format_data": (lambda: hook.compute_format_data, jupyter),
                    "get_ipython().display_formatter": (lambda: shell.display_formatter, None),
                    "get_ipython().display_formatter.format": (lambda: formatter.format, jupyter),
                })
                session = getattr(hook, "session", None)
                if session is not None:
                    relied["the kernel session's send"] = (lambda: session.send, jupyter)
            return relied

        @staticmethod
        def unwrap(obj):
            # a bound method is a new object at every access: its function is the one to hold
            func = getattr(obj, "__func__", None)
            return func if func is not None and getattr(obj, "__self__", None) is not None else obj

        def genuine(self, obj, packages):
            """A function of the library itself: its globals are the namespace of a module of
            `packages`, as imported (a notebook's function has the notebook's globals; a
            wrapper or partial has none). Paths are not compared: they differ between
            installs, sandboxes and bytecode-only packages."""
            func = getattr(obj, "__func__", obj)
            namespace = getattr(func, "__globals__", None)
            name = namespace.get("__name__") if isinstance(namespace, dict) else None
            if not isinstance(name, str) or not any(name == p or name.startswith(p + ".") for p in packages):
                return False
            module = self.modules.get(name)
            return module is not None and getattr(module, "__dict__", None) is namespace

        @staticmethod
        def canary_passes(shell):
            """A reply that reports autograd use must reach the display unchanged."""
            try:
                reply = {"results": [{"status": "ok", "autograd_calls": 7, "tampered": ["canary"]}]}
                text = json.dumps(reply)
                if json.loads(text) != reply:
                    return False
                encoded = base64.b64encode(text.encode()).decode("ascii")
                if base64.b64decode(encoded).decode() != text or len(encoded) % 4:
                    return False
                if shell is None:
                    return True
                shown = shell.display_formatter.format(encoded)[0].get("text/plain")
                return shown == repr(encoded)
            except Exception:
                return False

        def problems(self):
            """Everything replaced, at install or since."""
            found = list(self.at_install)
            for name, (read, _) in self.relied.items():
                if name in found:
                    continue
                try:
                    same = self.unwrap(read()) is self.seen.get(name)
                except Exception:
                    same = False
                if not same:
                    found.append(name)
            return found

    return Integrity
