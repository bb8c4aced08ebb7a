# %% cell-05 from     def backward(self):
    def backward(self):
        """Set self.grad = 1, then run every ancestor's _backward in reverse topological order."""
        # post-order DFS with an explicit stack (no recursion limit problems)
        topo = []
        stack = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                topo.append(node)
            else:
                stack.append((node, True))
                for child in node._prev:
                    stack.append((child, False))

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
