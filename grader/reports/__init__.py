"""Results and what is made of them: JSON per submission, Markdown feedback, gradebook CSV."""
