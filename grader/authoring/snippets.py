"""Ready-to-edit YAML for a new question of each check kind (`grader new-question KIND`).

Every snippet is a valid question as it stands (tests load each one into a
rubric), so an author starts from something that runs and edits from there.
"""

from __future__ import annotations

SNIPPETS: dict[str, str] = {
    "gradient": """\
- id: {id}
  title: gradient of x^T A x
  points: 1
  calls: [{id}]                  # the student's function, called with the args below
  args:
    A: {{shape: [n, n]}}           # kinds: general, symmetric, spd, well_conditioned, positive_det
    x: {{shape: [n]}}
  dims: {{n: [2, 6]}}              # distinct symbols always get distinct sizes
  check:
    kind: gradient
    of: x @ A @ x                # torch expression; the reference is its gradient (denominator layout)
    wrt: x
    forbid: [autograd]
    mistakes:
      - when: 2 * A @ x
        hint: You assumed A is symmetric.
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 4, seed: 1001}}}}
""",
    "value": """\
- id: {id}
  title: a tensor-valued function and its autograd semantics
  points: 1
  calls: [{id}]
  args:
    x: {{shape: [n], requires_grad: true}}
    k: {{integer: [1, 4]}}
  dims: {{n: [1, 6]}}
  check:
    kind: value
    expect: 2 * k * x.detach()   # torch expression of the args (torch and math available)
    plain_result: true           # no grad_fn, requires_grad off
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 4, seed: 1001}}}}
""",
    "finite_difference": """\
- id: {id}
  title: a finite-difference scheme
  points: 1
  calls: [{id}]                  # called as fn(f, x, h)
  check:
    kind: finite_difference
    scheme: central              # forward | central
    form: scalar                 # scalar: f float -> float; gradient: f Tensor (n,) -> scalar Tensor
    h: 1.0e-3
    order: {{h_min: 1.0e-4, h_max: 1.0e-1, steps: 7, tolerance: 0.35}}
    exact_calls: "2"             # e.g. "2n" for a gradient
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 3, seed: 1001}}}}
""",
    "forward_mode": """\
- id: {id}
  title: the student's Dual on one operation
  points: 1
  calls: [Dual]                  # via: class | derivative | jvp | jacobian
  check:
    kind: forward_mode
    via: class
    forbid: [torch]
    graphs: {{generator: single_op, ops: [mul]}}   # single_op | random_dag | deep_chain | reuse
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 3, seed: 1001}}}}
""",
    "reverse_mode": """\
- id: {id}
  title: the student's Value on random graphs
  points: 1
  calls: [Value]                 # via: class | vjp
  check:
    kind: reverse_mode
    via: class
    forbid: [torch]
    graphs: {{generator: random_dag, inputs: 3, nodes: 12, ops: [add, mul, tanh]}}
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 3, seed: 1001}}}}
""",
    "lagrange": """\
- id: {id}
  title: an equality-constrained solver
  points: 1
  calls: [{id}]                  # called as fn(f, g, x0, lam0) for via: solve
  check: {{kind: lagrange, via: solve, problems: [quadratic, circle]}}
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 4, seed: 1001}}}}
""",
}


def snippet(kind: str, question_id: str) -> str:
    return SNIPPETS[kind].format(id=question_id)
