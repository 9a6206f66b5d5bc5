"""The README's "Library API" section runs as written: every ```python block in it, in order, in one
namespace, on the real compiler and the embedded chain (nothing stubbed)."""

from __future__ import annotations

from helpers.readme import section_blocks


def test_library_api_section_runs(capsys) -> None:
    blocks = section_blocks("Library API")
    assert blocks, "the Library API section has no ```python block"
    namespace: dict[str, object] = {"__name__": "readme_example"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"README.md Library API block {index + 1}", "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    assert "classes" in printed and "gas: deploy" in printed and "on-chain: True" in printed
    result = namespace["result"]
    assert all(result.emulator_agrees) and result.gas_used > 0  # type: ignore[attr-defined]
    assert namespace["checked"].valid  # type: ignore[attr-defined]
