/* lang.h — which language a file is in, which tree-sitter grammar parses it, and which
 * syntax nodes of that grammar are definitions (and how to name them).
 *
 * Language names are short static strings ("python", "cpp", "markdown", "text" …); compare
 * them with strcmp. Grammar languages: python, javascript, typescript, tsx, go, rust, java,
 * c, cpp, csharp, ruby, php, bash. Everything here is pure and thread-safe. */
#ifndef EMBECODE_LANG_H
#define EMBECODE_LANG_H

#include <stdbool.h>
#include <stddef.h>

#include <tree_sitter/api.h>

#include "util.h"

/* Language of a project-relative (or absolute) path, by file name and extension:
 *   .py .pyi .pyw → python        .js .mjs .cjs .jsx → javascript
 *   .ts .mts .cts → typescript    .tsx → tsx           .go → go      .rs → rust
 *   .java → java                  .c .h → c            .cs .csx → csharp
 *   .cc .cpp .cxx .c++ .hh .hpp .hxx .h++ .ipp .tpp .inl, and .C .H → cpp
 *   .rb .rake .gemspec .ru, Rakefile Gemfile … → ruby   .php .phtml → php
 *   .sh .bash .zsh .ksh, .bashrc .bash_profile .profile … → bash
 *   .md .markdown → markdown  .yml .yaml → yaml  .toml → toml  .json .jsonc → json
 *   .sql → sql  .html .htm .xhtml → html  .css .scss .sass .less → css  .xml → xml
 *   Makefile GNUmakefile .mk → make   Dockerfile Containerfile → dockerfile
 *   CMakeLists.txt .cmake → cmake     anything else → text
 * Extensions compare case-insensitively except .C/.H (C++ by Unix convention). `.h` is "c"
 * here because the path alone cannot tell; lang_detect_content() looks inside.
 * Never returns NULL (NULL or empty path → "text"); the result is a static string. */
const char *lang_detect(const char *path);

/* Like lang_detect(), then refined by content (src may be NULL when len is 0):
 * - a `.h` file that shows C++ syntax (`template <`, `namespace x {`, `class X {`/`:`,
 *   `std::`, or a line starting with `public:`/`private:`/`protected:`, looked for in the
 *   first 64 KiB) is "cpp";
 * - a file that would be "text" and starts with a `#!` line names its interpreter:
 *   sh/bash/dash/zsh/ksh → bash, python* → python, node/nodejs/deno/bun → javascript,
 *   ts-node/tsx → typescript, ruby → ruby, php → php (also through `/usr/bin/env [-S]`).
 * Never returns NULL; static string. */
const char *lang_detect_content(const char *path, const char *src, size_t len);

/* True when `lang` (a name as returned above) has a tree-sitter grammar. NULL → false. */
bool lang_has_grammar(const char *lang);

/* The grammars, numbered 0 .. lang_grammar_count()-1. */
int lang_grammar_count(void);
/* Index of the grammar for `lang`, or -1 when it has none (or lang is NULL). */
int lang_grammar_index(const char *lang);
/* Language name of grammar `idx` (static string). idx must be valid. */
const char *lang_grammar_name(int idx);
/* The tree-sitter language of grammar `idx` (static, never freed). idx must be valid. */
const TSLanguage *lang_grammar_language(int idx);

/* Definition rules. A rule says that nodes of one kind (e.g. "function_definition") are
 * definitions with a label ("function") and where the name comes from.
 *
 * lang_def_rule(): the rule number for node kind `kind` in grammar `idx`, or -1 when nodes
 * of that kind are never definitions. Callers build per-symbol lookup tables with it.
 *
 * lang_def_describe(): for a node whose kind has rule `rule`, appends "label name" to out
 * and returns true — or returns false (out untouched) when this particular node is not a
 * definition after all (a C `struct s` without a body, a JS variable whose value is not a
 * function, a node whose name is missing in a broken tree). `src`/`len` is the parsed
 * source. The name is the text of the node's `name` field (special cases: Python
 * decorated definitions are found through their inner def; Go types by `type_spec`; Rust
 * `impl` by its `type` field; C/C++ functions and typedefs through the declarator chain to
 * the identifier; JS/TS `const f = () => …` as function f; Ruby `def self.f` as method
 * "self.f"), with whitespace runs collapsed to one space, control characters and invalid
 * UTF-8 replaced by '?', no space after a comma (so ", " only ever separates entries of a
 * definitions list), and names longer than 80 bytes cut there, ending "...". Labels:
 *   python: function class          javascript: function class method
 *   typescript/tsx: function class interface type enum method namespace
 *   go: function method type        rust: function struct enum union impl trait module
 *                                         type macro
 *   java: class interface enum record method constructor annotation
 *   c: function struct union enum typedef macro
 *   cpp: c's plus class namespace type (`using T = …`) concept, and method (a function
 *        defined inside a class body; `int K::f() {}` outside one stays "function K::f")
 *   csharp: class interface struct enum record method constructor namespace
 *   ruby: class module method        php: function class interface trait enum method
 *   bash: function
 * (JS/TS "method" includes class fields holding a function: `onClick = () => {}`.) */
int lang_def_rule(int idx, const char *kind);
bool lang_def_describe(int idx, int rule, TSNode node, const char *src, size_t len, sbuf_t *out);

#endif
