"""Rule files shipped with vigil (TOML, detection-rules format); loaded by `vigil.rules.builtin_rules()`."""
