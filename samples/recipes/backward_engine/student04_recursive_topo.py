# %% cell-05 from     def backward(self):
    def backward(self):
        """Set self.grad = 1, then run every ancestor's _backward in reverse topological order."""
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
