"""Example for `python -m gcpause run`: trees with parent pointers (cyclic garbage), a growing cache."""
import sys


class Node:
    def __init__(self, parent=None):
        self.parent = parent          # child -> parent: a reference cycle
        self.children = []


def build_tree(depth, fanout):
    root = Node()
    level = [root]
    for _ in range(depth):
        nxt = []
        for node in level:
            for _ in range(fanout):
                child = Node(node)
                node.children.append(child)
                nxt.append(child)
        level = nxt
    return root


def handle(request_id, cache):
    tree = build_tree(depth=6, fanout=4)       # ~5,000 nodes, garbage after return
    cache[request_id] = [{"id": request_id, "n": i} for i in range(50)]  # kept
    return len(tree.children)


def main(n):
    cache = {}
    for i in range(n):
        handle(i, cache)
    print(f"handled {n} requests, cache holds {len(cache)} entries")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
