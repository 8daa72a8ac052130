"""The documents of the engine differential test (issue 9): the suite's own and generated ones.

Two sources, both of query operations only:

- `suite_documents`: every GraphQL query written in tests/*.py. String literals are read with
  `ast` (constant folding of `+` and f-strings over module-level string constants, so
  `"{" + FIELDS + "}"` counts too), kept when they parse and validate against the schema.
  `fill_variables` gives their variables values from the seeded database (`Pool`).
- `generated_documents`: hypothesis-graphql over the committed SDL, one reproducible draw
  (fixed seed) per root field plus documents mixing several root fields. Argument values
  come from the seeded data too (real IDs, dates, symbols, cursors, keywords) so that most
  documents reach real rows rather than stop at "Malformed ID". Documents that do not
  validate, or whose result could be large (`estimated_size`), are dropped.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import datetime as dt
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from graphql_api.core.ids import encode_id
from graphql_api.engine.input_rules import oversized_selection

TESTS_DIR = Path(__file__).resolve().parent
SDL_PATH = TESTS_DIR.parent / "schema" / "schema.graphql"

# Connections default to 20 rows (DESIGN.md); a list without `first` is guessed at this.
DEFAULT_FIRST = 20
UNBOUNDED_LIST = 10


@dataclass(frozen=True)
class Case:
    """One query operation to run, with its variables."""

    origin: str  # "tests/test_x.py" or "generated:<root field>"
    text: str
    operation_name: str | None = None
    variables: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.origin} op={self.operation_name}" if self.operation_name else self.origin


@dataclass
class Pool:
    """Values from the seeded database that documents are filled with.

    `ids` lists primary keys per Node type, the rows that matter most first (the member's own
    portfolio and business, a draft announcement, ...), so the first rows exercise the
    owner-only and draft-visibility rules.
    """

    ids: dict[str, list[int]]
    dates: list[dt.date]
    symbols: list[str]
    keywords: list[str]
    industries: list[str]
    regions: list[str]
    categories: list[str]
    business_names: list[str]
    glossary_fragments: list[str]
    cursors: dict[str, str]  # connection type name -> the end cursor of a first page
    now: dt.datetime
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["dates"] = [d.isoformat() for d in self.dates]
        fields["now"] = self.now.isoformat()
        return fields

    @classmethod
    def from_json(cls, fields: dict[str, Any]) -> Pool:
        return cls(
            **{
                **fields,
                "dates": [dt.date.fromisoformat(d) for d in fields["dates"]],
                "now": dt.datetime.fromisoformat(fields["now"]),
            }
        )


# --- The suite's own documents ---------------------------------------------------------


def _fold(node: ast.AST, names: dict[str, str]) -> str | None:
    """The string an expression evaluates to, when it is built from constants only."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold(node.left, names), _fold(node.right, names)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.conversion != -1 or value.format_spec is not None:
                    return None
                text = _fold(value.value, names)
            else:
                text = _fold(value, names)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            text = _fold(value, names)
            if text is not None:
                names[target.id] = text
    return names


def string_literals(path: Path) -> Iterator[str]:
    """Every string a module spells out, including ones folded from module constants."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = _module_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant | ast.BinOp | ast.JoinedStr | ast.Name):
            text = _fold(node, names)
            if text is not None and "{" in text:
                yield text


def parse_valid(
    text: str, schema: GraphQLSchema, rules: Sequence[type[graphql.ASTValidationRule]] = ()
) -> DocumentNode | None:
    """The document when the text parses and validates (with the app's extra rules)."""
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError:
        return None
    if oversized_selection(document) is not None:  # e.g. `{}`: refused before validation
        return None
    rule_list = [*graphql.specified_rules, *rules]
    if graphql.validate(schema, document, rule_list):
        return None
    return document


def query_operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.QUERY
    ]


@dataclass
class SuiteDocuments:
    """Query documents found in tests/*.py, by file; what was left out, and why."""

    documents: list[tuple[str, str]] = field(default_factory=list)  # (file, text)
    not_queries: int = 0
    invalid: int = 0


def suite_documents(
    schema: GraphQLSchema,
    rules: Sequence[type[graphql.ASTValidationRule]] = (),
    tests_dir: Path = TESTS_DIR,
) -> SuiteDocuments:
    found = SuiteDocuments()
    seen: set[str] = set()
    for path in sorted(tests_dir.glob("*.py")):
        for text in string_literals(path):
            try:
                document = graphql.parse(text)
            except graphql.GraphQLError:
                continue  # not GraphQL (JSON, SQL, messages...)
            key = graphql.print_ast(document)
            if key in seen:
                continue
            seen.add(key)
            if not query_operations(document):
                found.not_queries += 1
            elif parse_valid(text, schema, rules) is None:
                found.invalid += 1  # a test of validation itself
            else:
                found.documents.append((f"tests/{path.name}", text))
    return found


# --- Variables from the seeded data ----------------------------------------------------


class Unfillable(Exception):
    """A variable this harness cannot give a meaningful value."""


@dataclass
class _Usage:
    field: FieldNode
    argument: str
    parent: str  # the type name the field is selected on


def _variable_usages(
    operation: OperationDefinitionNode, schema: GraphQLSchema
) -> dict[str, list[_Usage]]:
    usages: dict[str, list[_Usage]] = {}

    def values(node: graphql.ValueNode) -> Iterator[str]:
        if isinstance(node, graphql.VariableNode):
            yield node.name.value
        elif isinstance(node, graphql.ListValueNode):
            for item in node.values:
                yield from values(item)
        elif isinstance(node, graphql.ObjectValueNode):
            for object_field in node.fields:
                yield from values(object_field.value)

    def walk(selection_set: graphql.SelectionSetNode | None, parent: str) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    for name in values(argument.value):
                        usages.setdefault(name, []).append(
                            _Usage(selection, argument.name.value, parent)
                        )
                walk(selection.selection_set, _field_type_name(schema, parent, selection))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                walk(selection.selection_set, condition.name.value if condition else parent)

    root = schema.query_type
    assert root is not None
    walk(operation.selection_set, root.name)
    return usages


def _field_type_name(schema: GraphQLSchema, parent: str, node: FieldNode) -> str:
    parent_type = schema.get_type(parent)
    if not isinstance(parent_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        return ""
    definition = parent_type.fields.get(node.name.value)
    if definition is None:
        return ""
    name: str = graphql.get_named_type(definition.type).name
    return name


def _id_type(usage: _Usage, pool: Pool, variant: int) -> str:
    """Which Node type an ID variable should name, from where it is used."""
    name = usage.field.name.value
    if name == "portfolio":
        return "Portfolio"
    if usage.argument in ("actorId", "userId", "ownerId"):
        return "User"
    if usage.argument == "businessId":
        return "Business"
    fragments = [
        s.type_condition.name.value
        for s in (usage.field.selection_set.selections if usage.field.selection_set else ())
        if isinstance(s, InlineFragmentNode) and s.type_condition is not None
    ]
    for type_name in fragments:
        if type_name in pool.ids:
            return type_name
    # A bare `node(id: $id) { id }`: a public type, then a protected one.
    return ("Announcement", "Portfolio")[variant % 2]


def fill_variables(
    operation: OperationDefinitionNode, schema: GraphQLSchema, pool: Pool, variant: int
) -> dict[str, Any]:
    """Values for the operation's variables; `variant` picks other rows (0 = the first)."""
    usages = _variable_usages(operation, schema)
    filled: dict[str, Any] = {}
    taken: dict[str, int] = {}  # per type: how many IDs handed out, so $a and $b differ

    def ids_of(type_name: str, n: int) -> list[str]:
        pks = pool.ids.get(type_name) or []
        if not pks:
            raise Unfillable(f"no seeded {type_name}")
        start = taken.get(type_name, 0) + variant * n
        taken[type_name] = taken.get(type_name, 0) + n
        return [encode_id(type_name, pks[(start + i) % len(pks)]) for i in range(n)]

    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if definition.default_value is not None:
            continue  # the document's own default
        type_ = graphql.type_from_ast(schema, definition.type)
        assert graphql.is_input_type(type_)
        uses = usages.get(name, [])
        argument = uses[0].argument if uses else name
        value = _value_for(type_, argument, uses, pool, variant, ids_of)
        filled[name] = value
    return filled


def _value_for(
    type_: graphql.GraphQLInputType,
    argument: str,
    uses: list[_Usage],
    pool: Pool,
    variant: int,
    ids_of: Callable[[str, int], list[str]],
) -> Any:
    required = isinstance(type_, graphql.GraphQLNonNull)
    named = graphql.get_named_type(type_)
    is_list = isinstance(graphql.get_nullable_type(type_), graphql.GraphQLList)

    def pick(values: Sequence[Any]) -> Any:
        if not values:
            raise Unfillable(f"no seeded values for ${argument}")
        return values[variant % len(values)]

    if named.name == "ID":
        if not uses:
            raise Unfillable(f"unused ID variable ${argument}")
        type_name = _id_type(uses[0], pool, variant)
        return ids_of(type_name, 3) if is_list else ids_of(type_name, 1)[0]
    if named.name == "Date":
        return [d.isoformat() for d in pool.dates[:3]] if is_list else pick(pool.dates).isoformat()
    if named.name == "Int":
        return (3, 1)[variant % 2]
    if named.name == "String":
        by_argument: dict[str, list[str]] = {
            "symbols": pool.symbols,
            "keywordsAny": pool.keywords,
            "keywordsAll": pool.keywords,
            "name": pool.business_names,
            "namePrefix": [n[:3] for n in pool.business_names],
            "search": pool.glossary_fragments,
            "industry": pool.industries,
            "region": pool.regions,
            "category": pool.categories,
            "action": pool.actions,
        }
        if argument == "after":
            return None  # the first page; a cursor of the right kind is not known here
        values = by_argument.get(argument)
        if values is None:
            if required:
                raise Unfillable(f"String ${argument}")
            return None
        return values[:2] if is_list else pick(values)
    if isinstance(named, graphql.GraphQLEnumType):
        names = list(named.values)
        return [pick(names)] if is_list else pick(names)
    if named.name == "Boolean":
        return variant % 2 == 0
    if isinstance(named, graphql.GraphQLInputObjectType):
        if any(graphql.is_required_input_field(f) for f in named.fields.values()):
            raise Unfillable(f"input {named.name}")
        return {}  # every field optional: no filter
    if required:
        raise Unfillable(f"{named.name} ${argument}")
    return None


def suite_cases(
    documents: Sequence[tuple[str, str]], schema: GraphQLSchema, pool: Pool
) -> tuple[list[Case], list[tuple[str, str, str]]]:
    """Cases for the suite's documents (two variable sets when IDs or dates pick rows), and
    the documents left out as (file, document, reason)."""
    cases: list[Case] = []
    unfilled: list[tuple[str, str, str]] = []
    for origin, text in documents:
        document = graphql.parse(text)
        operations = query_operations(document)
        several = len([d for d in document.definitions if isinstance(d, OperationDefinitionNode)])
        for operation in operations:
            operation_name = operation.name.value if operation.name and several > 1 else None
            if not operation.variable_definitions:
                cases.append(Case(origin, text, operation_name))
                continue
            seen: list[dict[str, Any]] = []
            try:
                for variant in (0, 1):
                    variables = fill_variables(operation, schema, pool, variant)
                    if variables not in seen:
                        seen.append(variables)
                        cases.append(Case(origin, text, operation_name, variables))
            except Unfillable as exc:
                unfilled.append((origin, text, str(exc)))
    return cases, unfilled


# --- Generated documents ---------------------------------------------------------------


def _string_node(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _custom_scalars(pool: Pool) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    ids = [encode_id(type_name, pk) for type_name, pks in pool.ids.items() for pk in pks[:4]]
    ids += [encode_id("Announcement", 987_654_321), "not-a-global-id", ""]
    dates = [d.isoformat() for d in pool.dates] + ["1999-12-31", "2999-01-01"]
    stamps = [
        (pool.now + dt.timedelta(days=d)).isoformat() for d in (-400, -30, -1, 0, 1, 7, 30)
    ] + ["2000-01-01T00:00:00Z", "not-a-date"]
    strings = sorted(
        {
            *pool.symbols[:4],
            *pool.keywords[:6],
            *pool.industries[:3],
            *pool.regions[:3],
            *pool.categories[:3],
            *pool.business_names[:2],
            *pool.glossary_fragments[:3],
            *pool.cursors.values(),
            *pool.actions[:3],
            "",
            "%",
            "_x",
        }
    )
    return {
        "ID": st.sampled_from(ids).map(_string_node),
        "Date": st.sampled_from(dates).map(_string_node),
        "DateTime": st.sampled_from(stamps).map(_string_node),
        "Decimal": st.sampled_from(["0", "1.5", "-2", "100000.25"]).map(_string_node),
        # Mostly small page sizes; sometimes out of range (BAD_USER_INPUT) or past the rows.
        "Int": st.sampled_from([0, 1, 2, 3, 4, 1, 2, 3, -1, 101, 7]).map(
            lambda i: graphql.IntValueNode(value=str(i))
        ),
        # Mostly values found in the data; sometimes any text (NUL, emoji, ...).
        "String": st.one_of(
            st.sampled_from(strings), st.sampled_from(strings), st.text(max_size=6)
        ).map(_string_node),
    }


def _draw(strategy: st.SearchStrategy[str], n: int, fixed_seed: int) -> list[str]:
    """`n` examples of a strategy, the same ones on every run (fixed seed, no database)."""
    drawn: list[str] = []

    @seed(fixed_seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
        print_blob=False,
    )
    @given(strategy)
    def collect(text: str) -> None:
        drawn.append(text)

    collect()
    return drawn


def estimated_size(document: DocumentNode, schema: GraphQLSchema) -> int:
    """Roughly how many values the result could hold: each field counts once per row of the
    lists above it (`first` when given, else the default page or a guess)."""

    def first_of(node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, graphql.IntValueNode):
                    n = int(value.value)
                    return 0 if n < 0 or n > 100 else n  # out of range: an error, no rows
                return DEFAULT_FIRST
        return None

    def rows(node: FieldNode, definition: graphql.GraphQLField) -> int:
        n = first_of(node)
        if n is not None:
            return n
        if "first" in definition.args:
            return DEFAULT_FIRST
        for argument in node.arguments or ():
            if isinstance(argument.value, graphql.ListValueNode):
                return len(argument.value.values)  # nodes(ids: [...])
        nullable = graphql.get_nullable_type(definition.type)
        return UNBOUNDED_LIST if isinstance(nullable, graphql.GraphQLList) else 1

    def size(selection_set: graphql.SelectionSetNode | None, parent: str, factor: int) -> int:
        if selection_set is None:
            return 0
        total = 0
        parent_type = schema.get_type(parent)
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                name = condition.name.value if condition else parent
                total += size(selection.selection_set, name, factor)
            elif isinstance(selection, FieldNode) and isinstance(
                parent_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType
            ):
                definition = parent_type.fields.get(selection.name.value)
                if definition is None:
                    continue
                inner = factor * rows(selection, definition)
                total += max(inner, 1)
                total += size(
                    selection.selection_set, graphql.get_named_type(definition.type).name, inner
                )
        return total

    root = schema.query_type
    assert root is not None
    return sum(
        size(operation.selection_set, root.name, 1) for operation in query_operations(document)
    )


# hypothesis-graphql writes plain selections with literal arguments. Every few documents
# get one more GraphQL feature an executor must get right: __typename, aliases (the same
# field twice under two names), @skip/@include, or arguments passed as variables.
DECORATIONS = ("plain", "typename", "aliases", "directives", "variables")


def _directive(name: str, value: bool) -> graphql.DirectiveNode:
    return graphql.DirectiveNode(
        name=graphql.NameNode(value=name),
        arguments=(
            graphql.ArgumentNode(
                name=graphql.NameNode(value="if"), value=graphql.BooleanValueNode(value=value)
            ),
        ),
    )


def decorate(
    document: DocumentNode, kind: str, schema: GraphQLSchema
) -> tuple[DocumentNode, dict[str, Any] | None]:
    """The document with one feature added everywhere it fits (see DECORATIONS)."""
    if kind == "variables":
        return _hoist_arguments(document, schema)

    class Decorate(graphql.Visitor):
        def leave_selection_set(self, node: graphql.SelectionSetNode, *args: Any) -> Any:
            selections = list(node.selections)
            if kind == "typename":
                selections.append(FieldNode(name=graphql.NameNode(value="__typename")))
            elif kind == "aliases":
                first = selections[0]
                if isinstance(first, FieldNode):
                    alias = graphql.NameNode(value=f"again_{first.name.value}")
                    selections.append(dataclasses.replace(first, alias=alias))
            elif kind == "directives" and len(selections) > 1:
                skipped, included = selections[0], selections[1]
                selections[0] = dataclasses.replace(
                    skipped, directives=(*(skipped.directives or ()), _directive("skip", True))
                )
                selections[1] = dataclasses.replace(
                    included, directives=(*(included.directives or ()), _directive("include", True))
                )
            return dataclasses.replace(node, selections=tuple(selections))

    edited: DocumentNode = graphql.visit(document, Decorate())
    return edited, None


def _hoist_arguments(
    document: DocumentNode, schema: GraphQLSchema
) -> tuple[DocumentNode, dict[str, Any] | None]:
    """Root fields' literal arguments become variables, with the values a client would send."""
    root = schema.query_type
    assert root is not None
    variables: dict[str, Any] = {}
    definitions: list[graphql.VariableDefinitionNode] = []
    operation = query_operations(document)[0]
    selections: list[graphql.SelectionNode] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.name.value not in root.fields:
            selections.append(selection)
            continue
        arguments = []
        for argument in selection.arguments or ():
            name = f"v{len(definitions)}"
            arg_type = root.fields[selection.name.value].args[argument.name.value].type
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=graphql.NameNode(value=name)),
                    type=graphql.parse_type(str(arg_type)),
                    directives=(),
                )
            )
            variables[name] = graphql.value_from_ast_untyped(argument.value)
            arguments.append(
                dataclasses.replace(
                    argument, value=graphql.VariableNode(name=graphql.NameNode(value=name))
                )
            )
        selections.append(dataclasses.replace(selection, arguments=tuple(arguments)))
    if not definitions:
        return document, None
    edited = dataclasses.replace(
        operation,
        variable_definitions=tuple(definitions),
        selection_set=dataclasses.replace(operation.selection_set, selections=tuple(selections)),
    )
    others = tuple(d for d in document.definitions if d is not operation)
    return dataclasses.replace(document, definitions=(edited, *others)), variables


def _real_cursors(document: DocumentNode, schema: GraphQLSchema, pool: Pool) -> DocumentNode:
    """`after:` strings become a real cursor of that connection where one is known (an
    empty string stays: a malformed cursor is worth asking about too)."""
    type_info = graphql.TypeInfo(schema)

    class Replace(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *args: Any) -> Any:
            value = node.value
            if node.name.value != "after" or not isinstance(value, graphql.StringValueNode):
                return None
            if not value.value or value.value in pool.cursors.values():
                return None
            field_type = type_info.get_type()
            named = graphql.get_named_type(field_type) if field_type else None
            cursor = pool.cursors.get(named.name) if named else None
            if cursor is None:
                return None
            return dataclasses.replace(node, value=_string_node(cursor))

    edited: DocumentNode = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Replace()))
    return edited


@dataclass
class Generated:
    cases: list[Case] = field(default_factory=list)
    decorations: Counter[str] = field(default_factory=Counter)
    drawn: int = 0
    duplicates: int = 0
    invalid: int = 0
    too_large: int = 0


def draw_documents(pool: Pool, *, per_field: int, mixed: int, fixed_seed: int) -> list[list[str]]:
    """Raw queries from the committed SDL: `per_field` draws for each root field, then `mixed`
    draws selecting any root fields, as [origin, text] pairs.

    Run it through `draw_in_subprocess`: Hypothesis mixes constants found in the loaded
    local modules into its draws, so the same seed drew other documents depending on which
    modules a test run had imported (one file or the whole suite).
    """
    committed = graphql.build_schema(SDL_PATH.read_text("utf-8"))
    scalars = _custom_scalars(pool)
    query_type = committed.query_type
    assert query_type is not None
    batches: list[tuple[str, st.SearchStrategy[str], int]] = [
        (name, queries(committed, fields=[name], custom_scalars=scalars), per_field)
        for name in query_type.fields
    ]
    batches.append(("mixed", queries(committed, custom_scalars=scalars), mixed))
    return [
        [origin, text]
        for index, (origin, strategy, n) in enumerate(batches)
        for text in _draw(strategy, n, fixed_seed + index)
    ]


async def draw_in_subprocess(
    pool: Pool, *, per_field: int, mixed: int, fixed_seed: int
) -> list[list[str]]:
    """`draw_documents` in a fresh interpreter that imports only this module (and runs
    beside the caller, which has other work meanwhile)."""
    request = orjson.dumps(
        {"pool": pool.to_json(), "per_field": per_field, "mixed": mixed, "seed": fixed_seed}
    )
    with tempfile.TemporaryDirectory(prefix="hypothesis-") as storage:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.differential_corpus",
            cwd=TESTS_DIR.parent,
            env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": storage},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await process.communicate(request)
        except BaseException:  # cancelled: the caller failed first
            process.kill()
            await process.wait()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"drawing documents failed:\n{err.decode(errors='replace')}")
    drawn: list[list[str]] = orjson.loads(out)
    return drawn


def generated_documents(
    drawn: Sequence[Sequence[str]],
    schema: GraphQLSchema,
    pool: Pool,
    *,
    max_size: int,
    rules: Sequence[type[graphql.ASTValidationRule]] = (),
) -> Generated:
    """Cases from drawn documents: kept when valid against `schema` and small, with real
    cursors and one decoration each (see DECORATIONS)."""
    out = Generated()
    seen: set[str] = set()
    kept = 0
    for origin, text in drawn:
        out.drawn += 1
        if text in seen:
            out.duplicates += 1
            continue
        seen.add(text)
        document = parse_valid(text, schema, rules)
        if document is None:
            out.invalid += 1
            continue
        if estimated_size(document, schema) > max_size:
            out.too_large += 1
            continue
        kind = DECORATIONS[kept % len(DECORATIONS)]
        decorated, variables = decorate(_real_cursors(document, schema, pool), kind, schema)
        final = graphql.print_ast(decorated)
        if parse_valid(final, schema, rules) is None:
            out.invalid += 1
            continue
        kept += 1
        out.decorations[kind] += 1
        out.cases.append(Case(f"generated:{origin}", final, None, variables))
    return out


if __name__ == "__main__":
    job = orjson.loads(sys.stdin.buffer.read())
    documents = draw_documents(
        Pool.from_json(job["pool"]),
        per_field=job["per_field"],
        mixed=job["mixed"],
        fixed_seed=job["seed"],
    )
    sys.stdout.buffer.write(orjson.dumps(documents))
