"""The trusted side: inputs, torch-autograd references, comparison, diagnosis.

Everything here runs in the grader process. `cases` draws seeded inputs,
`reference` evaluates rubric expressions with torch autograd in float64,
`compare` applies the tolerance table, `diagnose` names the classic mistake,
`static` looks for autograd inside functions that must be closed form, and
`gradient` ties them together for the `gradient` check kind.
"""
