"""Ask the student's kernel for values: `session` sends calls, `values` reads replies.

`kernel_side.py` is the text that runs inside the kernel; the grader never
imports it.
"""
