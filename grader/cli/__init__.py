"""The `grader` command: one module per verb (grade, check, validate, schema)."""
