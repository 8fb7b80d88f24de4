"""Straight-line Python for one record shape of a mapping (see `mapping` for the semantics being compiled).

A shape is the tuple of a record's keys (all values present: the dispatcher strips None and '' first) plus the row
each `Lookup` table gives. With that fixed, every step is decided here, once: which `First` source wins, which
`Copy` runs, which table row applies, which keys are left for the vendor namespace. What remains per record is
reading the raw values, running converters, and building the document with nested dict literals.

A converter may carry `inline(args, fallback, const) -> str`: a Python expression over the argument locals that
computes its common case without a call and calls `fallback` (the function's constant) otherwise; `const(obj)`
names any object it needs (a cache). When every value that may be None is present, the whole document is returned
as one literal; otherwise a field whose converter may return None is set after the literal with an
`if ... is not None`, and an object that might stay empty is attached only when it is not.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters import mapping as m


class _Node:
    """An object of the document being laid out: leaf → [(expression, may be None)] or a child _Node."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, t.Union[list[tuple[str, bool]], _Node]] = {}

    def child(self, leaf: str) -> _Node:
        node = self.items.setdefault(leaf, _Node())
        if not isinstance(node, _Node):
            raise ValueError(f"mapping puts both a value and an object at {leaf!r}")
        return node

    def value(self, leaf: str, expr: str, conditional: bool) -> None:
        entries = self.items.setdefault(leaf, [])
        if isinstance(entries, _Node):
            raise ValueError(f"mapping puts both a value and an object at {leaf!r}")
        entries.append((expr, conditional))


class ShapeCompiler:
    def __init__(self, name: str, steps: t.Sequence[m.Step], *, vendor: t.Optional[str],
                 vendor_convert: t.Mapping[str, m.Converter], consumed: frozenset[str],
                 wanted: t.Optional[t.Callable[[str], bool]] = None):
        self.name = name
        self.wanted = wanted  # a projected mapping: only these paths are put (steps are already filtered)
        self.steps = tuple(steps)
        self.vendor = vendor
        self.vendor_convert = dict(vendor_convert)
        self.consumed = consumed

    def compile(self, keys: tuple[str, ...], rows: tuple[t.Optional[tuple], ...]) -> t.Callable[[dict], dict]:
        """The function mapping records with exactly these `keys` (in this order) and these lookup `rows`."""
        return _Writer(self, keys, rows).function()


class _Writer:
    def __init__(self, compiler: ShapeCompiler, keys: tuple[str, ...], rows: tuple[t.Optional[tuple], ...]):
        self.c = compiler
        self.keys = keys
        self.present = frozenset(keys)
        self.rows = rows
        self.lines: list[str] = []
        self.consts: dict[str, t.Any] = {}
        self.loaded: dict[str, str] = {}
        self.root = _Node()
        self.temps = 0
        self.calls: dict[tuple[int, str], tuple[str, bool]] = {}
        self.appends: dict[str, list[tuple[str, bool]]] = {}

    # -- helpers

    def load(self, key: str) -> str:
        if key not in self.loaded:
            self.loaded[key] = f"x{len(self.loaded)}"
            self.lines.append(f"{self.loaded[key]} = raw[{key!r}]")
        return self.loaded[key]

    def const(self, value: t.Any) -> str:
        for name, known in self.consts.items():
            if known is value:
                return name
        name = f"k{len(self.consts)}"
        self.consts[name] = value
        return name

    def temp(self, prefix: str) -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def constant(self, value: t.Any) -> str:
        return m.literal(value) or self.const(value)

    def put(self, path: str, expr: str, conditional: bool) -> None:
        if self.c.wanted is not None and not self.c.wanted(path):
            return  # a projected mapping: a kept step's other destinations are not written
        *parents, leaf = path.split(".")
        node = self.root
        for part in parents:
            node = node.child(part)
        node.value(leaf, expr, conditional)

    def call(self, fn: t.Callable, args: list[str]) -> tuple[str, bool]:
        # Converters are pure: the same converter of the same values is computed once per record. A converter with
        # an `inline` writer becomes an expression here (its common case without a call, the function otherwise).
        key = (id(fn), ", ".join(args))
        if key not in self.calls:
            var = self.temp("c")
            inline = getattr(fn, "inline", None)
            expr = inline(args, self.const(fn), self.const) if inline else f"{self.const(fn)}({key[1]})"
            self.lines.append(f"{var} = {expr}")
            self.calls[key] = (var, not getattr(fn, "never_none", False))
        return self.calls[key]

    # -- steps

    def function(self) -> t.Callable[[dict], dict]:
        lookup_rows = iter(self.rows)
        for step in self.c.steps:
            if isinstance(step, (m.Copy, m.First)):
                srcs = (step.src,) if isinstance(step, m.Copy) else step.srcs
                src = next((s for s in srcs if s in self.present), None)
                if src is None:
                    continue
                expr, conditional = self.load(src), False
                if step.convert is not None:
                    expr, conditional = self.call(step.convert, [expr])
                for path in m._dsts(step.dst):
                    self.put(path, expr, conditional)
            elif isinstance(step, m.Set):
                self.put(step.dst, self.constant(step.value), False)
            elif isinstance(step, m.Lookup):
                row = next(lookup_rows)
                if row is not None:
                    for path, value in zip(step.dsts, row):
                        if value is not None:
                            self.put(path, self.constant(value), False)
            elif isinstance(step, m.Derive):
                self.derive(step)
            elif isinstance(step, m.Append):
                items = self.appends.setdefault(step.dst, [])
                for src in step.srcs:
                    if src in self.present:
                        expr = self.load(src)
                        items.append(self.call(step.convert, [expr]) if step.convert else (expr, False))
            else:  # pragma: no cover - guarded by the type
                raise TypeError(f"unknown mapping step {step!r}")
        for path, items in self.appends.items():
            self.append_list(path, items)
        if self.c.vendor:
            self.vendor_namespace()
        conditionals = self.conditionals(self.root)
        if conditionals:
            # The usual record has every converted value: then the document is one nested literal, in the order
            # the steps first wrote each field (the interpreter's order). Otherwise the general layout below.
            test = " and ".join(f"{expr} is not None" for expr in conditionals)
            self.lines.append(f"if {test}:")
            self.lines.append(f"    return {self.full_literal(self.root)}")
        expr, _ = self.emit(self.root, "doc")
        self.lines.append(f"return {expr}")
        return self.build()

    def conditionals(self, node: _Node) -> list[str]:
        out: dict[str, None] = {}
        for entry in node.items.values():
            if isinstance(entry, _Node):
                out.update(dict.fromkeys(self.conditionals(entry)))
            else:
                out.update(dict.fromkeys(expr for expr, conditional in entry if conditional))
        return list(out)

    def full_literal(self, node: _Node) -> str:
        """`node` with every conditional value present: each leaf is its last write, every object non-empty."""
        items = []
        for leaf, entry in node.items.items():
            if isinstance(entry, _Node):
                if entry.items:  # an object nothing was put in (an empty vendor namespace) is left out
                    items.append(f"{leaf!r}: {self.full_literal(entry)}")
            else:
                items.append(f"{leaf!r}: {entry[-1][0]}")
        return "{" + ", ".join(items) + "}"

    def derive(self, step: m.Derive) -> None:
        there = [src in self.present for src in step.srcs]
        if not any(there) or not all(there[: step.needs]):
            return
        args = [self.load(src) if ok else "None" for src, ok in zip(step.srcs, there)]
        if len(step.dsts) == 1:
            expr, conditional = self.call(step.fn, args)
            self.put(step.dsts[0], expr, conditional)
            return
        row, _ = self.call(step.fn, args)
        names = [self.temp("e") for _ in step.dsts]
        self.lines.append(f"if {row} is None: {row} = {tuple([None] * len(names))!r}")
        self.lines.append(f"{', '.join(names)}, = {row}")
        for path, name in zip(step.dsts, names):
            self.put(path, name, True)

    def append_list(self, path: str, items: list[tuple[str, bool]]) -> None:
        # `unique()` written out: one membership test per value (no call, no loop), None dropped where it can occur.
        seen: dict[str, bool] = {}
        for expr, conditional in items:
            seen[expr] = seen.get(expr, False) or conditional  # the same local twice is the same value
        if not seen:
            return
        exprs = list(seen)
        if not any(seen.values()):
            if len(exprs) == 1:
                self.put(path, f"[{exprs[0]}]", False)
                return
            if len(exprs) == 2:
                a, b = exprs
                self.put(path, f"([{a}] if {a} == {b} else [{a}, {b}])", False)
                return
        var = self.temp("a")
        first, *rest = exprs
        if seen[first]:
            self.lines.append(f"{var} = [] if {first} is None else [{first}]")
        else:
            self.lines.append(f"{var} = [{first}]")
        for expr in rest:
            test = f"{expr} is not None and " if seen[expr] else ""
            self.lines.append(f"if {test}{expr} not in {var}: {var}.append({expr})")
        if all(seen.values()):  # every value may be None: so may the list
            self.lines.append(f"if not {var}: {var} = None")
            self.put(path, var, True)
        else:
            self.put(path, var, False)

    def vendor_namespace(self) -> None:
        node = self.root.child(self.c.vendor)  # type: ignore[arg-type]
        wanted = self.c.wanted
        for key in self.keys:
            if key in self.c.consumed or (wanted is not None and not wanted(f"{self.c.vendor}.{key}")):
                continue
            expr = self.loaded.get(key) or f"raw[{key!r}]"
            convert = self.c.vendor_convert.get(key)
            if convert is None:
                node.value(key, expr, False)  # vendor keys are flat, possibly dotted: one leaf each
            else:
                node.value(key, *self.call(convert, [self.load(key)]))

    # -- layout

    def emit(self, node: _Node, var: str) -> tuple[str, bool]:
        """(expression for `node`, whether it is certainly non-empty); statements go to self.lines."""
        items: list[tuple[str, str]] = []
        later: list[str] = []
        for leaf, entry in node.items.items():
            if isinstance(entry, _Node):
                child_var = f"{var}_{len(items) + len(later)}"
                expr, nonempty = self.emit(entry, child_var)
                if nonempty:
                    items.append((leaf, expr))
                elif expr != "{}":
                    later.append(f"if {expr}: {var}[{leaf!r}] = {expr}")
                continue
            # Sequential-assignment semantics: the last unconditional value wins, later conditional ones may
            # still overwrite it.
            last = max((i for i, (_, conditional) in enumerate(entry) if not conditional), default=None)
            if last is not None:
                items.append((leaf, entry[last][0]))
            for expr, _ in entry[(last or 0) + (last is not None):]:
                later.append(f"if {expr} is not None: {var}[{leaf!r}] = {expr}")
        literal = "{" + ", ".join(f"{leaf!r}: {expr}" for leaf, expr in items) + "}"
        if not later:
            return literal, bool(items)
        self.lines.append(f"{var} = {literal}")
        self.lines.extend(later)
        return var, bool(items)

    def build(self) -> t.Callable[[dict], dict]:
        name = "shape_" + m._identifier(self.c.name)
        source = f"def {name}(raw):\n" + "".join(f"    {line}\n" for line in self.lines)
        namespace: dict[str, t.Any] = dict(self.consts)
        # The source is written from our own mapping tables; raw values only ever flow through locals.
        exec(compile(source, f"<shape {self.c.name} {len(self.keys)} keys>", "exec"), namespace)  # noqa: S102
        fn = namespace[name]
        fn.__source__ = source
        return fn
