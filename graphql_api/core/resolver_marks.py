"""Marks the schema layer puts on resolvers for the engine (neither imports the other)."""

# Resolvers may carry these attributes (set by the schema layer) to say they are cheaper
# to call than a general resolver:
#   ENGINE_ATTRIBUTE: the name of the source attribute that is the field's value;
#   ENGINE_DIRECT: (func, takes_info, is_async, convert): call func(source[, info], **args),
#   where func reads nothing from `info` but `context` and static field facts, so one info
#   object per field and request serves every row; `convert` (or None for a field without
#   arguments) turns graphql-core's coerced arguments into func's, once per request.
ENGINE_ATTRIBUTE = "__engine_attribute__"
ENGINE_DIRECT = "__engine_direct__"
