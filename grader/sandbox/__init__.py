"""Run a student's notebook in a sandboxed kernel and keep it for probing.

`launcher` is the kernel's own entry point (stdlib only: limits, network
namespace, then exec of ipykernel); `client` drives the kernel with nbclient;
`launcher.kill_tree` makes sure no process the kernel started outlives the submission.
"""
