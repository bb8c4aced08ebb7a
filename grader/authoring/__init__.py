"""The course author's side: student notebooks from solutions (`assign`), rubric mutants."""
