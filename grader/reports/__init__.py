"""Results and what is made of them: JSON per submission, Markdown and HTML feedback, the
gradebook CSV, JUnit XML, Gradescope results.json, the GitHub job summary and annotations, and
the terminal view of `grader check` (views.py holds what they all share)."""
