# Writes every ```cpp block of the given markdown files that is not marked as a fragment (an
# HTML comment "<!-- fragment -->" on the last non-blank line before the fence) to
# OUT/docs-sample-STEM-N.cpp, STEM the file's name without .md, N counting from 1 per file.
# docs_test.cpp applies the same rule to find every such block built (tests/integration).
FNR == 1 {
  n = 0; prev = ""; in_block = 0; file = ""
  stem = FILENAME; sub(/.*\//, "", stem); sub(/\.md$/, "", stem)
}
in_block && /^```[ \t]*$/ {
  in_block = 0; if (file != "") close(file); file = ""; prev = ""; next
}
in_block { if (file != "") print > file; next }
/^```/ {
  in_block = 1
  if (substr($0, 4) == "cpp" && prev !~ /^<!-- *fragment/) {
    n++; file = out "/docs-sample-" stem "-" n ".cpp"
  }
  next
}
/[^ \t]/ { prev = $0 }
