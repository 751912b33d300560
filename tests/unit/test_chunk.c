/* test_chunk.c — language detection, cAST chunk boundaries and definitions for every
 * grammar, line windows, and odd input (see test_chunk_props.c for real files). */
#include "t.h"

#include "chunk.h"
#include "lang.h"
#include "util.h"

static chunker_t *g_chunker;

/* Chunks src; on mismatch with the expected texts/definitions prints what came out. */
static void dump(const char *src, const chunk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        fprintf(stderr, "    chunk %zu [%u,%u) lines %u-%u {%s}: \"%.*s\"\n", i, l->v[i].start_byte,
                l->v[i].end_byte, l->v[i].start_line, l->v[i].end_line, l->v[i].definitions,
                (int)(l->v[i].end_byte - l->v[i].start_byte), src + l->v[i].start_byte);
}

static int chunk_str(const char *lang, const char *src, int budget, chunk_list_t *l)
{
    err_t err;
    int rc = chunk_source(g_chunker, lang, src, strlen(src), budget, l, &err);
    if (rc != 0) fprintf(stderr, "    chunk_source: %s\n", err.msg);
    return rc;
}

/* Expects exactly the chunk texts texts[0..n) with definitions defs[0..n). */
static void expect_chunks(const char *lang, const char *src, int budget, const char *const *texts,
                          const char *const *defs)
{
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str(lang, src, budget, &l), 0);
    size_t n = 0;
    while (texts[n])
        n++;
    int before = t_cur_failed;
    T_EQ_INT(l.n, n);
    for (size_t i = 0; i < n && i < l.n; i++) {
        const chunk_t *k = &l.v[i];
        char *text = xstrndup(src + k->start_byte, k->end_byte - k->start_byte);
        T_EQ_STR(text, texts[i]);
        T_EQ_STR(k->definitions, defs[i]);
        free(text);
    }
    if (t_cur_failed != before) {
        fprintf(stderr, "    (%s, budget %d) got:\n", lang, budget);
        dump(src, &l);
    }
    chunk_list_free(&l);
}

/* The definitions of a source chunked as a whole (large budget → one chunk). */
static void expect_defs(const char *lang, const char *src, const char *defs)
{
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str(lang, src, 100000, &l), 0);
    T_EQ_INT(l.n, 1);
    if (l.n == 1) T_EQ_STR(l.v[0].definitions, defs);
    chunk_list_free(&l);
}

#define TEXTS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define DEFS(...) ((const char *const[]){__VA_ARGS__})

/* ---- language detection ----------------------------------------------------------------- */

static void test_lang_detect_maps_extensions_and_names(void)
{
    /* clang-format off */
    static const char *const cases[][2] = {
        {"a.py", "python"},         {"pkg/stub.pyi", "python"}, {"x.js", "javascript"},
        {"x.mjs", "javascript"},    {"x.cjs", "javascript"},    {"x.jsx", "javascript"},
        {"x.ts", "typescript"},     {"types.d.ts", "typescript"}, {"x.tsx", "tsx"},
        {"main.go", "go"},          {"lib.rs", "rust"},         {"A.java", "java"},
        {"a.c", "c"},               {"a.h", "c"},               {"a.cc", "cpp"},
        {"a.cpp", "cpp"},           {"a.cxx", "cpp"},           {"a.hh", "cpp"},
        {"a.hpp", "cpp"},           {"a.C", "cpp"},             {"P.cs", "csharp"},
        {"a.rb", "ruby"},           {"Rakefile", "ruby"},       {"Gemfile", "ruby"},
        {"i.php", "php"},           {"run.sh", "bash"},         {"x.bash", "bash"},
        {"home/.bashrc", "bash"},   {".profile", "bash"},       {"README.md", "markdown"},
        {"ci.yml", "yaml"},         {"ci.yaml", "yaml"},        {"Cargo.toml", "toml"},
        {"package.json", "json"},   {"q.sql", "sql"},           {"i.html", "html"},
        {"i.htm", "html"},          {"s.css", "css"},           {"s.scss", "css"},
        {"Makefile", "make"},       {"sub/GNUmakefile", "make"}, {"Dockerfile", "dockerfile"},
        {"Dockerfile.dev", "dockerfile"}, {"CMakeLists.txt", "cmake"}, {"notes.txt", "text"},
        {"LICENSE", "text"},        {"a.PY", "python"},         {"dir.py/file", "text"},
        {".gitignore", "text"},     {"weird.", "text"},         {"", "text"},
    };
    /* clang-format on */
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        T_EQ_STR(lang_detect(cases[i][0]), cases[i][1]);
    T_EQ_STR(lang_detect(NULL), "text");
}

static void test_lang_detect_content_uses_shebang_and_cpp_markers(void)
{
    T_EQ_STR(lang_detect_content("bin/tool", "#!/bin/sh\necho hi\n", 18), "bash");
    const char *env = "#!/usr/bin/env -S python3 -u\nprint(1)\n";
    T_EQ_STR(lang_detect_content("bin/tool", env, strlen(env)), "python");
    T_EQ_STR(lang_detect_content("cli", "#!/usr/bin/env node\n", 20), "javascript");
    T_EQ_STR(lang_detect_content("cli", "#!/usr/bin/ruby -w\n", 19), "ruby");
    T_EQ_STR(lang_detect_content("cli", "#!/usr/bin/perl\n", 16), "text");
    T_EQ_STR(lang_detect_content("notes", "just text\n", 10), "text");
    /* a shebang does not override an extension */
    T_EQ_STR(lang_detect_content("x.py", "#!/bin/sh\n", 10), "python");

    const char *cpp = "#pragma once\nnamespace util {\nint f();\n}\n";
    T_EQ_STR(lang_detect_content("u.h", cpp, strlen(cpp)), "cpp");
    const char *cls = "class Widget : public Base {\n};\n";
    T_EQ_STR(lang_detect_content("w.h", cls, strlen(cls)), "cpp");
    const char *tpl = "template <typename T> T max(T a, T b);\n";
    T_EQ_STR(lang_detect_content("m.h", tpl, strlen(tpl)), "cpp");
    const char *c = "/* a class of errors; see the template in docs */\n#ifdef __cplusplus\n"
                    "extern \"C\" {\n#endif\nstruct s { int public_x; };\nint f(void);\n";
    T_EQ_STR(lang_detect_content("s.h", c, strlen(c)), "c");
    T_EQ_STR(lang_detect_content("s.c", cpp, strlen(cpp)), "c"); /* only headers are guessed */
    T_EQ_STR(lang_detect_content("s.h", NULL, 0), "c");
}

static void test_lang_grammars_cover_the_required_languages(void)
{
    static const char *const with[] = {"python", "javascript", "typescript", "tsx", "go",
                                       "rust",   "java",       "c",          "cpp", "csharp",
                                       "ruby",   "php",        "bash"};
    for (size_t i = 0; i < ARRAY_LEN(with); i++) {
        T_CHECK(lang_has_grammar(with[i]));
        int gi = lang_grammar_index(with[i]);
        T_CHECK(gi >= 0);
        if (gi >= 0) {
            T_EQ_STR(lang_grammar_name(gi), with[i]);
            T_CHECK(lang_grammar_language(gi) != NULL);
        }
    }
    T_EQ_INT(lang_grammar_count(), (int)ARRAY_LEN(with));
    static const char *const without[] = {"markdown", "yaml", "toml", "json", "sql",
                                          "html",     "css",  "text", "make"};
    for (size_t i = 0; i < ARRAY_LEN(without); i++)
        T_CHECK(!lang_has_grammar(without[i]));
    T_CHECK(!lang_has_grammar(NULL));
    T_EQ_INT(lang_def_rule(lang_grammar_index("python"), "function_definition") >= 0, 1);
    T_EQ_INT(lang_def_rule(lang_grammar_index("python"), "identifier"), -1);
}

/* ---- cAST boundaries, one source per language ------------------------------------------- */

static void test_python_chunks_merge_siblings_and_split_big_classes(void)
{
    const char *src = "import os\n\n\ndef a():\n    return 1\n\n\n@cache\ndef b():\n    return 2\n"
                      "\n\nclass C:\n    def m(self):\n        return 3\n\n    def n(self):\n"
                      "        return 4\n";
    /* sizes: import os 8, a 14, b 20 (with decorator), class 7 + m 18 + n 18 */
    expect_chunks("python", src, 30,
                  TEXTS("import os\n\n\ndef a():\n    return 1",
                        "@cache\ndef b():\n    return 2\n\n\nclass C:",
                        "def m(self):\n        return 3", "def n(self):\n        return 4"),
                  DEFS("function a", "function b, class C", "function m", "function n"));
    expect_chunks("python", src, 1000,
                  TEXTS("import os\n\n\ndef a():\n    return 1\n\n\n@cache\n"
                        "def b():\n    return 2\n\n\nclass C:\n    def "
                        "m(self):\n        return 3\n\n    def n(self):\n"
                        "        return 4\n"),
                  DEFS("function a, function b, class C, function m, function n"));
}

static void test_javascript_chunks_on_node_boundaries(void)
{
    const char *src = "function a() { return 1; }\nconst b = () => 2;\n\nclass C {\n"
                      "  m() { return 3; }\n  n() { return 4; }\n}\n";
    expect_chunks("javascript", src, 30,
                  TEXTS("function a() { return 1; }", "const b = () => 2;\n\nclass C",
                        "{\n  m() { return 3; }\n  n() { return 4; }\n}"),
                  DEFS("function a", "function b, class C", "method m, method n"));
}

static void test_typescript_chunks_on_node_boundaries(void)
{
    const char *src = "interface P { x: number; }\ntype Q = P | null;\nenum E { A, B }\n\n"
                      "class C {\n  m(): number { return 3; }\n  n(): number { return 4; }\n}\n";
    expect_chunks("typescript", src, 30,
                  TEXTS("interface P { x: number; }",
                        "type Q = P | null;\nenum E { A, B }\n\nclass C {",
                        "m(): number { return 3; }", "n(): number { return 4; }\n}"),
                  DEFS("interface P", "type Q, enum E, class C", "method m", "method n"));
}

static void test_tsx_chunks_on_node_boundaries(void)
{
    const char *src = "type Props = { name: string };\nfunction Hello({ name }: Props) {\n"
                      "  return <b>{name}</b>;\n}\n";
    expect_chunks("tsx", src, 30,
                  TEXTS("type Props = { name: string };", "function Hello({ name }: Props)",
                        "{\n  return <b>{name}</b>;\n}"),
                  DEFS("type Props", "function Hello", ""));
}

static void test_go_chunks_on_node_boundaries(void)
{
    const char *src = "package p\n\ntype T struct{ x int }\n\nfunc A() int { return 1 }\n\n"
                      "func (t *T) M() int {\n\ta := t.x\n\treturn a + 1\n}\n";
    expect_chunks("go", src, 30,
                  TEXTS("package p\n\ntype T struct{ x int }",
                        "func A() int { return 1 }\n\nfunc (t *T) M",
                        "() int {\n\ta := t.x\n\treturn a + 1\n}"),
                  DEFS("type T", "function A, method M", ""));
}

static void test_rust_chunks_on_node_boundaries(void)
{
    const char *src =
        "struct S { x: i32 }\nenum E { A, B }\n\nimpl S {\n"
        "    fn m(&self) -> i32 { self.x }\n    fn n(&self) -> i32 { self.x + 1 }\n}\n"
        "\ntrait T { fn t(&self); }\n";
    /* the first chunk is exactly 30 characters: the budget is inclusive */
    expect_chunks(
        "rust", src, 30,
        TEXTS("struct S { x: i32 }\nenum E { A, B }\n\nimpl S {", "fn m(&self) -> i32 { self.x }",
              "fn n(&self) -> i32 { self.x + 1 }\n}", "trait T { fn t(&self); }"),
        DEFS("struct S, enum E, impl S", "function m", "function n", "trait T, function t"));
}

static void test_java_chunks_on_node_boundaries(void)
{
    const char *src = "class A {\n    int x;\n\n    A(int x) { this.x = x; }\n\n"
                      "    int m() { return x; }\n\n    interface I { void i(); }\n}\n";
    expect_chunks("java", src, 30,
                  TEXTS("class A {\n    int x;\n\n    A(int x) { this.x = x; }",
                        "int m() { return x; }", "interface I { void i(); }\n}"),
                  DEFS("class A, constructor A", "method m", "interface I, method i"));
}

static void test_c_chunks_on_node_boundaries(void)
{
    const char *src = "#define N 4\n\nstruct s { int a; };\n\nstatic int f(int p) { return p; }\n";
    /* sizes: define 9 + struct 15 = 24 fits exactly; the function (16 + 10) is split */
    expect_chunks(
        "c", src, 24,
        TEXTS("#define N 4\n\nstruct s { int a; };", "static int f(int p)", "{ return p; }"),
        DEFS("macro N, struct s", "function f", ""));
}

static void test_cpp_chunks_on_node_boundaries(void)
{
    const char *src = "namespace ns {\nclass K {\n    int v() { return 1; }\n};\n}\n\n"
                      "int K::w() { return 2; }\n";
    expect_chunks("cpp", src, 30,
                  TEXTS("namespace ns", "{\nclass K {\n    int v() { return 1; }\n};\n}",
                        "int K::w() { return 2; }"),
                  DEFS("namespace ns", "class K, method v", "function K::w"));
}

static void test_csharp_chunks_on_node_boundaries(void)
{
    const char *src =
        "namespace N {\n    class C {\n        C() { }\n        int M() { return 1; }\n"
        "    }\n    record R(int X);\n}\n";
    expect_chunks("csharp", src, 30,
                  TEXTS("namespace N {",
                        "class C {\n        C() { }\n        int M() { return 1; }\n    }",
                        "record R(int X);\n}"),
                  DEFS("namespace N", "class C, constructor C, method M", "record R"));
}

static void test_ruby_chunks_on_node_boundaries(void)
{
    const char *src =
        "module M\n  class C\n    def a; 1; end\n    def self.b; 2; end\n  end\nend\n";
    expect_chunks(
        "ruby", src, 30,
        TEXTS("module M\n  class C", "def a; 1; end\n    def self.b; 2; end\n  end", "end"),
        DEFS("module M, class C", "method a, method self.b", ""));
}

static void test_php_chunks_on_node_boundaries(void)
{
    const char *src =
        "<?php\nfunction f() { return 1; }\nclass C {\n    function m() { return 2; }\n}\n"
        "interface I {}\ntrait T {}\n";
    expect_chunks("php", src, 30,
                  TEXTS("<?php\nfunction f() { return 1; }",
                        "class C {\n    function m() { return 2; }\n}",
                        "interface I {}\ntrait T {}"),
                  DEFS("function f", "class C, method m", "interface I, trait T"));
}

static void test_bash_chunks_on_node_boundaries(void)
{
    const char *src = "f() { echo 1; }\nfunction g { echo 2; }\necho done\n";
    expect_chunks("bash", src, 30, TEXTS("f() { echo 1; }\nfunction g { echo 2; }", "echo done"),
                  DEFS("function f, function g", ""));
}

/* ---- definitions per language ----------------------------------------------------------- */

static void test_definitions_python_unwrap_decorators_and_nest(void)
{
    expect_defs("python",
                "@app.route('/')\n@auth\ndef index():\n    pass\n\nclass A(B):\n    @property\n"
                "    def x(self):\n        def inner():\n            pass\n\nasync def go():\n"
                "    pass\n",
                "function index, class A, function x, function inner, function go");
}

static void test_definitions_javascript_functions_classes_methods(void)
{
    expect_defs("javascript",
                "function a() {}\nfunction* gen() {}\nconst b = () => 1, c = 2;\n"
                "let d = function () {};\nvar e = async () => {};\nclass K extends Base {\n"
                "  constructor() { super(); }\n  static make() {}\n  get v() { return 1; }\n"
                "  #priv() {}\n  handler = () => {};\n  field = 1;\n}\n",
                "function a, function gen, function b, function d, function e, class K, "
                "method constructor, method make, method v, method #priv");
}

static void test_definitions_class_fields_holding_functions_are_methods(void)
{
    expect_defs("javascript",
                "class K {\n  onClick = () => {};\n  count = 0;\n  #h = function () {};\n}\n",
                "class K, method onClick, method #h");
    expect_defs("typescript",
                "class K {\n  private onClick = (e: Event): void => {};\n  count: number = 0;\n}\n",
                "class K, method onClick");
}

static void test_definitions_typescript_every_kind(void)
{
    expect_defs("typescript",
                "export interface I { m(): void; }\nexport type T = string;\nenum E { A }\n"
                "declare function f(x: number): void;\nabstract class A { abstract go(): void; }\n"
                "namespace NS { export function g() {} }\nexport default class D { h() {} }\n",
                "interface I, method m, type T, enum E, function f, class A, method go, "
                "namespace NS, function g, class D");
    expect_defs("typescript",
                "declare module \"fs\" {\n  export function readFileSync(): string;\n}\n",
                "namespace \"fs\", function readFileSync");
}

static void test_definitions_tsx_components(void)
{
    expect_defs("tsx",
                "export const App = () => <div />;\nfunction Row() { return <tr />; }\n"
                "class Page extends Component { render() { return <main />; } }\n",
                "function App, function Row, class Page, method render");
}

static void test_definitions_go_types_from_type_spec(void)
{
    expect_defs("go",
                "package p\ntype (\n\tA struct{}\n\tB interface{}\n)\ntype C = A\n"
                "func F() {}\nfunc (a *A) M() {}\nfunc G[T any](x T) T { return x }\n",
                "type A, type B, type C, function F, method M, function G");
}

static void test_definitions_rust_impl_named_by_type(void)
{
    expect_defs("rust",
                "mod m {\n  pub fn f() {}\n}\nstruct S;\nenum E { A }\nunion U { a: u8 }\n"
                "trait T { fn req(&self); }\nimpl<X> T for Wrapper<X> { fn req(&self) {} }\n"
                "type Alias = S;\nmacro_rules! mac { () => {} }\n",
                "module m, function f, struct S, enum E, union U, trait T, function req, "
                "impl Wrapper<X>, type Alias, macro mac");
}

static void test_definitions_java_records_and_constructors(void)
{
    expect_defs(
        "java",
        "package p;\npublic class A {\n  public A() {}\n  void m() {}\n"
        "  interface I {}\n  enum E { X }\n  record R(int a) { R {} }\n  @interface Ann {}\n}\n",
        "class A, constructor A, method m, interface I, enum E, record R, constructor R, "
        "annotation Ann");
}

static void test_definitions_c_follow_declarators(void)
{
    expect_defs("c",
                "#define MAX(a, b) ((a) > (b) ? (a) : (b))\n#define ONE 1\n"
                "typedef struct node { struct node *next; } node_t;\n"
                "typedef void (*callback)(int);\nunion u { int i; };\nenum e { X };\n"
                "struct fwd;\nstruct node *n;\nint proto(void);\n"
                "static char **names(void) { return 0; }\nint (*pick(int k))(int) { return 0; }\n"
                "int __attribute__((unused)) att(void) { return 0; }\n",
                "macro MAX, macro ONE, typedef node_t, struct node, typedef callback, union u, "
                "enum e, function names, function pick, function att");
}

static void test_definitions_cpp_methods_namespaces_classes(void)
{
    expect_defs("cpp",
                "namespace a::b {\ntemplate <typename T>\nclass Box {\n public:\n"
                "  T get() const { return v; }\n  template <typename U> void put(U u) {}\n"
                "  Box &operator=(const Box &) = default;\n  explicit operator bool() const { "
                "return true; }\n  ~Box() {}\n};\nstruct P { int x; };\n}\n"
                "int Box::size() const { return 0; }\nint &ref() { static int r; return r; }\n",
                "namespace a::b, class Box, method get, method put, method operator=, "
                "method operator bool, method ~Box, struct P, function Box::size, function ref");
    expect_defs("cpp", "int f(int);\nint f(int x) { return x; }\nint f(double x) { return 1; }\n",
                "function f"); /* duplicates are listed once */
}

static void test_definitions_csharp_every_kind(void)
{
    expect_defs("csharp",
                "namespace A.B;\npublic interface I { void M(); }\nstruct S {}\nenum E { X }\n"
                "record R(int X);\nclass C {\n  public C() {}\n  public int N() => 1;\n}\n",
                "namespace A.B, interface I, method M, struct S, enum E, record R, class C, "
                "constructor C, method N");
}

static void test_definitions_ruby_singleton_methods(void)
{
    expect_defs("ruby",
                "module A::B\n  class C < D\n    def x; end\n    def self.y; end\n    def z?; end\n"
                "  end\nend\n",
                "module A::B, class C, method x, method self.y, method z?");
}

static void test_definitions_php_every_kind(void)
{
    expect_defs("php",
                "<html><?php\nnamespace N;\nfunction f() {}\nabstract class A { abstract function "
                "m(); public static function s() {} }\ninterface I { function i(); }\n"
                "trait T { function t() {} }\nenum E { case X; }\n",
                "function f, class A, method m, method s, interface I, method i, trait T, "
                "method t, enum E");
}

static void test_definitions_bash_both_function_syntaxes(void)
{
    expect_defs("bash", "a() { :; }\nfunction b { :; }\nfunction c() (\n  :\n)\nd=1\n",
                "function a, function b, function c");
}

static void test_definitions_go_to_the_chunk_where_they_start(void)
{
    /* a class split over chunks: each method is listed where it starts, once */
    const char *src = "class A:\n    def one(self):\n        return 1111111111\n\n"
                      "    def two(self):\n        return 2222222222\n\n"
                      "    def three(self):\n        return 3333333333\n";
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("python", src, 40, &l), 0);
    T_EQ_INT(l.n, 3);
    if (l.n == 3) {
        T_EQ_STR(l.v[0].definitions, "class A, function one");
        T_EQ_STR(l.v[1].definitions, "function two");
        T_EQ_STR(l.v[2].definitions, "function three");
    }
    chunk_list_free(&l);
}

static void test_definitions_are_capped_per_chunk(void)
{
    sbuf_t b = {0};
    for (int i = 0; i < 14; i++)
        sbuf_printf(&b, "def f%d(): pass\n", i);
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("python", b.data, 10000, &l), 0);
    T_EQ_INT(l.n, 1);
    if (l.n == 1)
        T_EQ_STR(l.v[0].definitions, "function f0, function f1, function f2, function f3, "
                                     "function f4, function f5, function f6, function f7, "
                                     "function f8, function f9");
    chunk_list_free(&l);
    sbuf_free(&b);
}

static void test_definition_names_are_cleaned(void)
{
    /* whitespace collapsed, no space after commas (", " separates entries) */
    expect_defs("rust", "impl<T> Wrapper<\n    T,\n    u8\n> {}\n", "impl Wrapper< T,u8 >");
    /* invalid UTF-8 and control characters become '?' */
    expect_defs("typescript", "declare module \"a\xff\x01z\" {}\n", "namespace \"a??z\"");
    /* long names are cut at 80 bytes with "..." */
    sbuf_t b = {0}, want = {0};
    sbuf_puts(&b, "declare module \"");
    for (int i = 0; i < 100; i++)
        sbuf_putc(&b, 'x');
    sbuf_puts(&b, "\" {}\n");
    sbuf_puts(&want, "namespace \"");
    for (int i = 0; i < 79; i++)
        sbuf_putc(&want, 'x');
    sbuf_puts(&want, "...");
    expect_defs("typescript", b.data, want.data);
    sbuf_free(&b);
    sbuf_free(&want);
    /* a multi-byte character is never cut in half */
    sbuf_t u = {0}, uwant = {0};
    sbuf_puts(&u, "declare module \"x");
    for (int i = 0; i < 60; i++)
        sbuf_puts(&u, "\xc3\xa9");
    sbuf_puts(&u, "\" {}\n");
    sbuf_puts(&uwant, "namespace \"x");
    for (int i = 0; i < 39; i++)
        sbuf_puts(&uwant, "\xc3\xa9");
    sbuf_puts(&uwant, "...");
    expect_defs("typescript", u.data, uwant.data);
    sbuf_free(&u);
    sbuf_free(&uwant);
}

/* ---- sizes, leaves, gaps ---------------------------------------------------------------- */

static void test_leaf_over_budget_is_a_chunk_alone(void)
{
    const char *src =
        "int a;\n/* a comment that is much longer than the budget */\nint b;\nint c;\n";
    expect_chunks(
        "c", src, 10,
        TEXTS("int a;", "/* a comment that is much longer than the budget */", "int b;\nint c;"),
        DEFS("", "", ""));
}

static void test_orphan_text_glues_its_neighbours(void)
{
    /* Python string text between escape sequences belongs to no child node: no chunk
     * boundary may fall inside the string, even over budget. */
    const char *src = "x = 1\ns = \"aaaa\\nbbbb\\ncccc\"\ny = 2\n";
    expect_chunks("python", src, 5, TEXTS("x = 1\ns =", "\"aaaa\\nbbbb\\ncccc", "\"\ny = 2"),
                  DEFS("", "", ""));
    /* A C line continuation inside a macro is orphan text too. */
    const char *mac = "#define M(a) \\\n  do { f(a); } while (0)\nint z;\n";
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("c", mac, 5, &l), 0);
    for (size_t i = 0; i < l.n; i++) {
        T_CHECK(!(l.v[i].start_byte <= 13 && l.v[i].end_byte == 13)); /* not cut at '\' */
        T_CHECK(!(l.v[i].start_byte == 14));
    }
    chunk_list_free(&l);
}

static void test_size_counts_code_points_not_bytes(void)
{
    /* 10 two-byte characters on two lines: 10 characters fit a budget of 10 */
    const char *src =
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n";
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("text", src, 10, &l), 0);
    T_EQ_INT(l.n, 1);
    chunk_list_free(&l);
    T_EQ_INT(chunk_str("text", src, 9, &l), 0);
    T_EQ_INT(l.n, 2);
    chunk_list_free(&l);
}

/* ---- line windows ----------------------------------------------------------------------- */

static void test_line_windows_merge_lines_within_budget(void)
{
    const char *src = "# Title\n\nfirst line\nsecond line\n\n"
                      "a line that is far too long for the budget\nlast\n  \n";
    /* sizes: 6, 9, 10, 31, 4 */
    expect_chunks("markdown", src, 20,
                  TEXTS("# Title\n\nfirst line", "second line",
                        "a line that is far too long for the budget", "last"),
                  DEFS("", "", "", ""));
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("markdown", src, 20, &l), 0);
    if (l.n == 4) {
        T_EQ_INT(l.v[0].start_line, 1);
        T_EQ_INT(l.v[0].end_line, 3);
        T_EQ_INT(l.v[1].start_line, 4);
        T_EQ_INT(l.v[1].end_line, 4);
        T_EQ_INT(l.v[2].start_line, 6);
        T_EQ_INT(l.v[3].start_line, 7);
        T_EQ_INT(l.v[3].end_line, 7);
    }
    chunk_list_free(&l);
}

static void test_line_windows_keep_indentation_and_crlf_lines(void)
{
    const char *src = "  key: 1\r\n  other: 2\r\n\r\nthird: 3";
    expect_chunks("yaml", src, 12, TEXTS("  key: 1\r\n  other: 2\r", "third: 3"), DEFS("", ""));
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("yaml", src, 12, &l), 0);
    if (l.n == 2) {
        T_EQ_INT(l.v[0].start_line, 1);
        T_EQ_INT(l.v[0].end_line, 2);
        T_EQ_INT(l.v[1].start_line, 4);
        T_EQ_INT(l.v[1].end_line, 4);
    }
    chunk_list_free(&l);
}

static void test_unknown_and_null_language_use_line_windows(void)
{
    expect_chunks("no-such-language", "a b\nc d\n", 3, TEXTS("a b", "c d"), DEFS("", ""));
    expect_chunks(NULL, "a b\nc d\n", 4, TEXTS("a b\nc d"), DEFS(""));
}

/* ---- odd input and the API contract ----------------------------------------------------- */

static void test_blank_sources_give_no_chunks(void)
{
    static const char *const langs[] = {"python", "c", "text"};
    for (size_t i = 0; i < ARRAY_LEN(langs); i++) {
        chunk_list_t l = {0};
        T_EQ_INT(chunk_str(langs[i], "", 100, &l), 0);
        T_EQ_INT(l.n, 0);
        T_EQ_INT(chunk_str(langs[i], " \n\t\r\n  \f\v\n", 100, &l), 0);
        T_EQ_INT(l.n, 0);
        chunk_list_free(&l);
    }
    chunk_list_t l = {0};
    err_t err;
    T_EQ_INT(chunk_source(g_chunker, "python", NULL, 0, 100, &l, &err), 0);
    T_EQ_INT(l.n, 0);
}

/* Every non-blank byte in exactly one chunk, chunks sorted and disjoint. */
static void check_coverage(const char *what, const char *src, size_t len, const chunk_list_t *l)
{
    size_t pos = 0;
    int before = t_cur_failed;
    for (size_t i = 0; i < l->n; i++) {
        T_CHECK(l->v[i].start_byte >= pos);
        T_CHECK(l->v[i].end_byte > l->v[i].start_byte && l->v[i].end_byte <= len);
        for (size_t j = pos; j < l->v[i].start_byte && j < len; j++)
            T_CHECK(strchr(" \t\n\r\v\f", src[j]) && src[j]);
        pos = l->v[i].end_byte;
    }
    for (size_t j = pos; j < len; j++)
        T_CHECK(strchr(" \t\n\r\v\f", src[j]) && src[j]);
    if (t_cur_failed != before) fprintf(stderr, "    coverage broken for %s\n", what);
}

static void test_nul_bytes_and_invalid_utf8_are_chunked_whole(void)
{
    static const char src[] = "def f():\n    return '\xff\xfe'\n\0\0\0\nclass \xc3(\0):\n"
                              "    x = \"\xe2\x82\"\n\x80\x80\x80\n";
    size_t len = sizeof src - 1;
    for (int gi = 0; gi < lang_grammar_count(); gi++) {
        for (int budget = 1; budget <= 64; budget *= 4) {
            chunk_list_t l = {0};
            err_t err;
            T_EQ_INT(chunk_source(g_chunker, lang_grammar_name(gi), src, len, budget, &l, &err), 0);
            T_CHECK(l.n > 0);
            check_coverage(lang_grammar_name(gi), src, len, &l);
            chunk_list_free(&l);
        }
    }
    /* a file of nothing but stray continuation bytes still yields a chunk */
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("text", "\x80\x80\n\x80", 5, &l), 0);
    T_EQ_INT(l.n, 1);
    chunk_list_free(&l);
}

static void test_deeply_nested_source_does_not_exhaust_the_stack(void)
{
    sbuf_t b = {0};
    sbuf_puts(&b, "x = ");
    for (int i = 0; i < 20000; i++)
        sbuf_putc(&b, '[');
    sbuf_putc(&b, '1');
    for (int i = 0; i < 20000; i++)
        sbuf_putc(&b, ']');
    sbuf_putc(&b, '\n');
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("javascript", b.data, 100, &l), 0);
    T_CHECK(l.n >= 400);
    check_coverage("nested", b.data, b.len, &l);
    chunk_list_free(&l);
    sbuf_free(&b);
}

static void test_chunks_are_appended_and_the_chunker_is_reusable(void)
{
    const char *py = "def a():\n    pass\n";
    const char *go = "package p\nfunc B() {}\n";
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("python", py, 100, &l), 0);
    T_EQ_INT(chunk_str("go", go, 100, &l), 0);
    T_EQ_INT(chunk_str("python", py, 100, &l), 0);
    T_EQ_INT(l.n, 3);
    if (l.n == 3) {
        T_EQ_STR(l.v[0].definitions, "function a");
        T_EQ_STR(l.v[1].definitions, "function B");
        T_EQ_INT(l.v[1].start_line, 1);
        T_EQ_INT(l.v[2].end_byte, l.v[0].end_byte);
        T_EQ_STR(l.v[2].definitions, "function a");
    }
    chunk_list_free(&l);
    T_EQ_INT(l.n, 0);
    T_CHECK(l.v == NULL);
    chunk_list_free(&l);
    chunk_list_free(NULL);
    chunker_free(NULL);
}

static void test_bad_arguments_are_reported(void)
{
    chunk_list_t l = {0};
    err_t err = {{0}};
    T_EQ_INT(chunk_source(g_chunker, "python", "x = 1\n", 6, 0, &l, &err), -1);
    T_CHECK(strstr(err.msg, "budget") != NULL);
    T_EQ_INT(chunk_source(g_chunker, "python", NULL, 5, 100, &l, &err), -1);
    T_CHECK(err.msg[0] != 0);
    T_EQ_INT(chunk_source(NULL, "python", "x", 1, 100, &l, &err), -1);
    T_EQ_INT(chunk_source(g_chunker, "python", "x", 1, 100, NULL, &err), -1);
    T_EQ_INT(chunk_source(g_chunker, "python", "x", 1, 0, &l, NULL), -1); /* err may be NULL */
    T_EQ_INT(l.n, 0);
}

static void test_lines_follow_bytes_with_leading_blank_lines(void)
{
    const char *src = "\n\n   int a;\n\nint b;";
    chunk_list_t l = {0};
    T_EQ_INT(chunk_str("c", src, 100, &l), 0);
    T_EQ_INT(l.n, 1);
    if (l.n == 1) {
        T_EQ_INT(l.v[0].start_byte, 5);
        T_EQ_INT(l.v[0].end_byte, strlen(src));
        T_EQ_INT(l.v[0].start_line, 3);
        T_EQ_INT(l.v[0].end_line, 5);
    }
    chunk_list_free(&l);
}

int main(void)
{
    g_chunker = chunker_new();
    T_RUN(test_lang_detect_maps_extensions_and_names);
    T_RUN(test_lang_detect_content_uses_shebang_and_cpp_markers);
    T_RUN(test_lang_grammars_cover_the_required_languages);
    T_RUN(test_python_chunks_merge_siblings_and_split_big_classes);
    T_RUN(test_javascript_chunks_on_node_boundaries);
    T_RUN(test_typescript_chunks_on_node_boundaries);
    T_RUN(test_tsx_chunks_on_node_boundaries);
    T_RUN(test_go_chunks_on_node_boundaries);
    T_RUN(test_rust_chunks_on_node_boundaries);
    T_RUN(test_java_chunks_on_node_boundaries);
    T_RUN(test_c_chunks_on_node_boundaries);
    T_RUN(test_cpp_chunks_on_node_boundaries);
    T_RUN(test_csharp_chunks_on_node_boundaries);
    T_RUN(test_ruby_chunks_on_node_boundaries);
    T_RUN(test_php_chunks_on_node_boundaries);
    T_RUN(test_bash_chunks_on_node_boundaries);
    T_RUN(test_definitions_python_unwrap_decorators_and_nest);
    T_RUN(test_definitions_javascript_functions_classes_methods);
    T_RUN(test_definitions_class_fields_holding_functions_are_methods);
    T_RUN(test_definitions_typescript_every_kind);
    T_RUN(test_definitions_tsx_components);
    T_RUN(test_definitions_go_types_from_type_spec);
    T_RUN(test_definitions_rust_impl_named_by_type);
    T_RUN(test_definitions_java_records_and_constructors);
    T_RUN(test_definitions_c_follow_declarators);
    T_RUN(test_definitions_cpp_methods_namespaces_classes);
    T_RUN(test_definitions_csharp_every_kind);
    T_RUN(test_definitions_ruby_singleton_methods);
    T_RUN(test_definitions_php_every_kind);
    T_RUN(test_definitions_bash_both_function_syntaxes);
    T_RUN(test_definitions_go_to_the_chunk_where_they_start);
    T_RUN(test_definitions_are_capped_per_chunk);
    T_RUN(test_definition_names_are_cleaned);
    T_RUN(test_leaf_over_budget_is_a_chunk_alone);
    T_RUN(test_orphan_text_glues_its_neighbours);
    T_RUN(test_size_counts_code_points_not_bytes);
    T_RUN(test_line_windows_merge_lines_within_budget);
    T_RUN(test_line_windows_keep_indentation_and_crlf_lines);
    T_RUN(test_unknown_and_null_language_use_line_windows);
    T_RUN(test_blank_sources_give_no_chunks);
    T_RUN(test_nul_bytes_and_invalid_utf8_are_chunked_whole);
    T_RUN(test_deeply_nested_source_does_not_exhaust_the_stack);
    T_RUN(test_chunks_are_appended_and_the_chunker_is_reusable);
    T_RUN(test_bad_arguments_are_reported);
    T_RUN(test_lines_follow_bytes_with_leading_blank_lines);
    chunker_free(g_chunker);
    return t_done();
}
