"""The check kinds' records, one module per kind (or per family of kinds that share their code):
each holds its kind's rubric model, its texts for authors, and its `prepare`, and is named by a
line of the table in grader/rubric/kinds.py.

The rubric's floor loads these modules to build the rubric's union of models, so what they
import at their top stays on the rubric's floor or below (grader/layers.py LOADED_FROM_BELOW,
tests/test_layers.py): no torch, no checks' code. What runs on the checks' floor (preparing a
question, its tolerance, its semantic check) imports that code inside the function. A new kind
with little code may write all of it in its module, the same way; a kind whose code is long puts
it in a module of grader/checks/ beside gradient.py, autodiff.py, numdiff.py and lagrange.py.
"""
