"""Ask the student's kernel for values: `session` sends calls, `values` reads replies.

`kernel_integrity.py` and `kernel_side.py` are the text that runs inside the
kernel (sent as one, in that order); the grader never imports them.
"""
