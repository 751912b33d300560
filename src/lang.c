/* lang.c — see lang.h. */
#include "lang.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Grammar entry points compiled into build/ts/libts.a. */
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_javascript(void);
const TSLanguage *tree_sitter_typescript(void);
const TSLanguage *tree_sitter_tsx(void);
const TSLanguage *tree_sitter_go(void);
const TSLanguage *tree_sitter_rust(void);
const TSLanguage *tree_sitter_java(void);
const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_cpp(void);
const TSLanguage *tree_sitter_c_sharp(void);
const TSLanguage *tree_sitter_ruby(void);
const TSLanguage *tree_sitter_php(void);
const TSLanguage *tree_sitter_bash(void);

/* ---- detection by name ------------------------------------------------------------------ */

/* clang-format off */
static const struct {
    const char *ext; /* lowercase, without the dot */
    const char *lang;
} ext_table[] = {
    {"py", "python"},      {"pyi", "python"},     {"pyw", "python"},     {"js", "javascript"},
    {"mjs", "javascript"}, {"cjs", "javascript"}, {"jsx", "javascript"}, {"ts", "typescript"},
    {"mts", "typescript"}, {"cts", "typescript"}, {"tsx", "tsx"},        {"go", "go"},
    {"rs", "rust"},        {"java", "java"},      {"c", "c"},            {"h", "c"},
    {"cc", "cpp"},         {"cpp", "cpp"},        {"cxx", "cpp"},        {"c++", "cpp"},
    {"hh", "cpp"},         {"hpp", "cpp"},        {"hxx", "cpp"},        {"h++", "cpp"},
    {"ipp", "cpp"},        {"tpp", "cpp"},        {"inl", "cpp"},        {"cs", "csharp"},
    {"csx", "csharp"},     {"rb", "ruby"},        {"rake", "ruby"},      {"gemspec", "ruby"},
    {"ru", "ruby"},        {"php", "php"},        {"phtml", "php"},      {"sh", "bash"},
    {"bash", "bash"},      {"zsh", "bash"},       {"ksh", "bash"},       {"md", "markdown"},
    {"markdown", "markdown"}, {"yml", "yaml"},    {"yaml", "yaml"},      {"toml", "toml"},
    {"json", "json"},      {"jsonc", "json"},     {"sql", "sql"},        {"html", "html"},
    {"htm", "html"},       {"xhtml", "html"},     {"css", "css"},        {"scss", "css"},
    {"sass", "css"},       {"less", "css"},       {"xml", "xml"},        {"mk", "make"},
    {"mak", "make"},       {"cmake", "cmake"},    {"dockerfile", "dockerfile"},
};
/* clang-format on */

/* clang-format off */
static const struct {
    const char *name;
    const char *lang;
} name_table[] = {
    {"Makefile", "make"},         {"makefile", "make"},          {"GNUmakefile", "make"},
    {"Dockerfile", "dockerfile"}, {"Containerfile", "dockerfile"}, {"CMakeLists.txt", "cmake"},
    {".bashrc", "bash"},          {".bash_profile", "bash"},     {".bash_login", "bash"},
    {".bash_logout", "bash"},     {".bash_aliases", "bash"},     {".profile", "bash"},
    {".zshrc", "bash"},           {".zprofile", "bash"},         {".zshenv", "bash"},
    {"PKGBUILD", "bash"},         {"Rakefile", "ruby"},          {"Gemfile", "ruby"},
    {"Guardfile", "ruby"},        {"Podfile", "ruby"},           {"Vagrantfile", "ruby"},
    {"Brewfile", "ruby"},
};
/* clang-format on */

const char *lang_detect(const char *path)
{
    if (!path || !*path) return "text";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < ARRAY_LEN(name_table); i++)
        if (strcmp(base, name_table[i].name) == 0) return name_table[i].lang;
    if (strncmp(base, "Dockerfile.", 11) == 0) return "dockerfile";
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || !dot[1]) return "text"; /* no extension, or a dotfile */
    const char *ext = dot + 1;
    if (strcmp(ext, "C") == 0 || strcmp(ext, "H") == 0) return "cpp";
    for (size_t i = 0; i < ARRAY_LEN(ext_table); i++)
        if (strcasecmp(ext, ext_table[i].ext) == 0) return ext_table[i].lang;
    return "text";
}

/* ---- detection by content --------------------------------------------------------------- */

static bool is_ident(int c)
{
    return isalnum(c) || c == '_';
}

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Does C++-only syntax start at p (which begins a word)? */
static bool cpp_marker_at(const char *p, const char *end)
{
    size_t n = (size_t)(end - p);
    if (n >= 8 && memcmp(p, "template", 8) == 0) {
        const char *q = skip_blank(p + 8, end);
        return q < end && *q == '<';
    }
    if (n >= 9 && memcmp(p, "namespace", 9) == 0 && p + 9 < end && !is_ident(p[9])) {
        const char *q = skip_blank(p + 9, end);
        while (q < end && (is_ident((unsigned char)*q) || *q == ':'))
            q++;
        q = skip_blank(q, end);
        return q < end && *q == '{';
    }
    if (n >= 5 && memcmp(p, "std::", 5) == 0) return true;
    if (n >= 6 && memcmp(p, "class", 5) == 0 && (p[5] == ' ' || p[5] == '\t')) {
        const char *q = skip_blank(p + 5, end), *id = q;
        while (q < end && is_ident((unsigned char)*q))
            q++;
        if (q == id) return false;
        q = skip_blank(q, end);
        return q < end && (*q == '{' || (*q == ':' && (q + 1 >= end || q[1] != ':')));
    }
    return false;
}

static bool access_label_at(const char *p, const char *end)
{
    static const char *const labels[] = {"public:", "private:", "protected:"};
    for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
        size_t k = strlen(labels[i]);
        if ((size_t)(end - p) >= k && memcmp(p, labels[i], k) == 0) return true;
    }
    return false;
}

static bool looks_like_cpp(const char *src, size_t len)
{
    const char *end = src + EC_MIN(len, (size_t)64 * 1024);
    bool line_start = true;
    for (const char *p = src; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            line_start = true;
            continue;
        }
        if (c == ' ' || c == '\t') continue;
        bool word_start = p == src || !is_ident((unsigned char)p[-1]);
        if (line_start && access_label_at(p, end)) return true;
        if (word_start && cpp_marker_at(p, end)) return true;
        line_start = false;
    }
    return false;
}

static const char *shebang_lang(const char *src, size_t len)
{
    if (len < 3 || src[0] != '#' || src[1] != '!') return NULL;
    const char *end = memchr(src, '\n', len);
    if (!end) end = src + len;
    char line[256];
    size_t n = EC_MIN((size_t)(end - src - 2), sizeof line - 1);
    memcpy(line, src + 2, n);
    line[n] = 0;
    /* Split into words; the interpreter is the first word's basename, or after `env`
     * the first word that is not an option or a VAR=value assignment. */
    char *save = NULL, *word = strtok_r(line, " \t\r", &save);
    bool via_env = false;
    while (word) {
        char *slash = strrchr(word, '/');
        char *name = slash ? slash + 1 : word;
        if (!via_env && strcmp(name, "env") == 0) {
            via_env = true;
        } else if (!(via_env && (name[0] == '-' || strchr(name, '=')))) {
            static const struct {
                const char *prefix;
                const char *lang;
                bool exact;
            } interp[] = {
                {"sh", "bash", true},
                {"bash", "bash", true},
                {"dash", "bash", true},
                {"zsh", "bash", true},
                {"ksh", "bash", true},
                {"python", "python", false},
                {"node", "javascript", true},
                {"nodejs", "javascript", true},
                {"deno", "javascript", true},
                {"bun", "javascript", true},
                {"ts-node", "typescript", true},
                {"tsx", "typescript", true},
                {"ruby", "ruby", false},
                {"php", "php", false},
            };
            for (size_t i = 0; i < ARRAY_LEN(interp); i++) {
                size_t k = strlen(interp[i].prefix);
                if (interp[i].exact ? strcmp(name, interp[i].prefix) == 0
                                    : strncmp(name, interp[i].prefix, k) == 0)
                    return interp[i].lang;
            }
            return NULL;
        }
        word = strtok_r(NULL, " \t\r", &save);
    }
    return NULL;
}

const char *lang_detect_content(const char *path, const char *src, size_t len)
{
    const char *lang = lang_detect(path);
    if (!src || len == 0) return lang;
    if (strcmp(lang, "c") == 0) {
        size_t n = path ? strlen(path) : 0;
        if (n >= 2 && strcasecmp(path + n - 2, ".h") == 0 && looks_like_cpp(src, len)) return "cpp";
        return lang;
    }
    if (strcmp(lang, "text") == 0) {
        const char *s = shebang_lang(src, len);
        if (s) return s;
    }
    return lang;
}

/* ---- grammars and definition rules ------------------------------------------------------ */

/* How a definition's name is found. */
typedef enum {
    NAME_FIELD,      /* text of field `field` ("name" unless the rule says otherwise) */
    NAME_DECLARATOR, /* C/C++: follow `declarator` fields down to the identifier */
    NAME_FUNC_VALUE, /* field `field`, only when field `value` is a function expression */
    NAME_SINGLETON,  /* Ruby `def self.f`: object "." name */
} name_rule_t;

enum {
    NEED_BODY = 1,       /* only when the node has a `body` field (C struct/enum definitions) */
    METHOD_IN_CLASS = 2, /* C++: label "method" when defined inside a class body */
};

typedef struct {
    const char *kind;
    const char *label;
    name_rule_t how;
    const char *field; /* NULL → "name" (NAME_FIELD, NAME_FUNC_VALUE) */
    unsigned flags;
} def_rule_t;

/* clang-format off */
#define RULES_END {NULL, NULL, NAME_FIELD, NULL, 0}
/* clang-format on */

static const def_rule_t python_rules[] = {
    {"function_definition", "function", NAME_FIELD, NULL, 0},
    {"class_definition", "class", NAME_FIELD, NULL, 0},
    RULES_END,
};

/* clang-format off */
#define JS_COMMON_RULES                                                                    \
    {"function_declaration", "function", NAME_FIELD, NULL, 0},                             \
    {"generator_function_declaration", "function", NAME_FIELD, NULL, 0},                   \
    {"variable_declarator", "function", NAME_FUNC_VALUE, NULL, 0},                         \
    {"class_declaration", "class", NAME_FIELD, NULL, 0},                                   \
    {"method_definition", "method", NAME_FIELD, NULL, 0}
/* clang-format on */

static const def_rule_t javascript_rules[] = {
    JS_COMMON_RULES,
    {"field_definition", "method", NAME_FUNC_VALUE, "property", 0},
    RULES_END,
};

static const def_rule_t typescript_rules[] = {
    JS_COMMON_RULES,
    {"public_field_definition", "method", NAME_FUNC_VALUE, NULL, 0},
    {"function_signature", "function", NAME_FIELD, NULL, 0},
    {"abstract_class_declaration", "class", NAME_FIELD, NULL, 0},
    {"interface_declaration", "interface", NAME_FIELD, NULL, 0},
    {"type_alias_declaration", "type", NAME_FIELD, NULL, 0},
    {"enum_declaration", "enum", NAME_FIELD, NULL, 0},
    {"method_signature", "method", NAME_FIELD, NULL, 0},
    {"abstract_method_signature", "method", NAME_FIELD, NULL, 0},
    {"internal_module", "namespace", NAME_FIELD, NULL, 0},
    {"module", "namespace", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t go_rules[] = {
    {"function_declaration", "function", NAME_FIELD, NULL, 0},
    {"method_declaration", "method", NAME_FIELD, NULL, 0},
    {"type_spec", "type", NAME_FIELD, NULL, 0},
    {"type_alias", "type", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t rust_rules[] = {
    {"function_item", "function", NAME_FIELD, NULL, 0},
    {"function_signature_item", "function", NAME_FIELD, NULL, 0},
    {"struct_item", "struct", NAME_FIELD, NULL, 0},
    {"enum_item", "enum", NAME_FIELD, NULL, 0},
    {"union_item", "union", NAME_FIELD, NULL, 0},
    {"impl_item", "impl", NAME_FIELD, "type", 0},
    {"trait_item", "trait", NAME_FIELD, NULL, 0},
    {"mod_item", "module", NAME_FIELD, NULL, 0},
    {"type_item", "type", NAME_FIELD, NULL, 0},
    {"macro_definition", "macro", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t java_rules[] = {
    {"class_declaration", "class", NAME_FIELD, NULL, 0},
    {"interface_declaration", "interface", NAME_FIELD, NULL, 0},
    {"enum_declaration", "enum", NAME_FIELD, NULL, 0},
    {"record_declaration", "record", NAME_FIELD, NULL, 0},
    {"annotation_type_declaration", "annotation", NAME_FIELD, NULL, 0},
    {"method_declaration", "method", NAME_FIELD, NULL, 0},
    {"constructor_declaration", "constructor", NAME_FIELD, NULL, 0},
    {"compact_constructor_declaration", "constructor", NAME_FIELD, NULL, 0},
    RULES_END,
};

/* clang-format off */
#define C_COMMON_RULES                                                                     \
    {"struct_specifier", "struct", NAME_FIELD, NULL, NEED_BODY},                           \
    {"union_specifier", "union", NAME_FIELD, NULL, NEED_BODY},                             \
    {"enum_specifier", "enum", NAME_FIELD, NULL, NEED_BODY},                               \
    {"type_definition", "typedef", NAME_DECLARATOR, NULL, 0},                              \
    {"preproc_def", "macro", NAME_FIELD, NULL, 0},                                         \
    {"preproc_function_def", "macro", NAME_FIELD, NULL, 0}
/* clang-format on */

static const def_rule_t c_rules[] = {
    {"function_definition", "function", NAME_DECLARATOR, NULL, 0},
    C_COMMON_RULES,
    RULES_END,
};

static const def_rule_t cpp_rules[] = {
    {"function_definition", "function", NAME_DECLARATOR, NULL, METHOD_IN_CLASS},
    C_COMMON_RULES,
    {"class_specifier", "class", NAME_FIELD, NULL, NEED_BODY},
    {"namespace_definition", "namespace", NAME_FIELD, NULL, 0},
    {"alias_declaration", "type", NAME_FIELD, NULL, 0},
    {"concept_definition", "concept", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t csharp_rules[] = {
    {"class_declaration", "class", NAME_FIELD, NULL, 0},
    {"interface_declaration", "interface", NAME_FIELD, NULL, 0},
    {"struct_declaration", "struct", NAME_FIELD, NULL, 0},
    {"enum_declaration", "enum", NAME_FIELD, NULL, 0},
    {"record_declaration", "record", NAME_FIELD, NULL, 0},
    {"method_declaration", "method", NAME_FIELD, NULL, 0},
    {"constructor_declaration", "constructor", NAME_FIELD, NULL, 0},
    {"namespace_declaration", "namespace", NAME_FIELD, NULL, 0},
    {"file_scoped_namespace_declaration", "namespace", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t ruby_rules[] = {
    {"class", "class", NAME_FIELD, NULL, 0},
    {"module", "module", NAME_FIELD, NULL, 0},
    {"method", "method", NAME_FIELD, NULL, 0},
    {"singleton_method", "method", NAME_SINGLETON, NULL, 0},
    RULES_END,
};

static const def_rule_t php_rules[] = {
    {"function_definition", "function", NAME_FIELD, NULL, 0},
    {"class_declaration", "class", NAME_FIELD, NULL, 0},
    {"interface_declaration", "interface", NAME_FIELD, NULL, 0},
    {"trait_declaration", "trait", NAME_FIELD, NULL, 0},
    {"enum_declaration", "enum", NAME_FIELD, NULL, 0},
    {"method_declaration", "method", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const def_rule_t bash_rules[] = {
    {"function_definition", "function", NAME_FIELD, NULL, 0},
    RULES_END,
};

static const struct {
    const char *lang;
    const TSLanguage *(*language)(void);
    const def_rule_t *rules;
} grammars[] = {
    {"python", tree_sitter_python, python_rules},
    {"javascript", tree_sitter_javascript, javascript_rules},
    {"typescript", tree_sitter_typescript, typescript_rules},
    {"tsx", tree_sitter_tsx, typescript_rules},
    {"go", tree_sitter_go, go_rules},
    {"rust", tree_sitter_rust, rust_rules},
    {"java", tree_sitter_java, java_rules},
    {"c", tree_sitter_c, c_rules},
    {"cpp", tree_sitter_cpp, cpp_rules},
    {"csharp", tree_sitter_c_sharp, csharp_rules},
    {"ruby", tree_sitter_ruby, ruby_rules},
    {"php", tree_sitter_php, php_rules},
    {"bash", tree_sitter_bash, bash_rules},
};

int lang_grammar_count(void)
{
    return (int)ARRAY_LEN(grammars);
}

int lang_grammar_index(const char *lang)
{
    if (!lang) return -1;
    for (size_t i = 0; i < ARRAY_LEN(grammars); i++)
        if (strcmp(lang, grammars[i].lang) == 0) return (int)i;
    return -1;
}

bool lang_has_grammar(const char *lang)
{
    return lang_grammar_index(lang) >= 0;
}

const char *lang_grammar_name(int idx)
{
    return grammars[idx].lang;
}

const TSLanguage *lang_grammar_language(int idx)
{
    return grammars[idx].language();
}

int lang_def_rule(int idx, const char *kind)
{
    if (idx < 0 || idx >= (int)ARRAY_LEN(grammars) || !kind) return -1;
    const def_rule_t *r = grammars[idx].rules;
    for (int i = 0; r[i].kind; i++)
        if (strcmp(r[i].kind, kind) == 0) return i;
    return -1;
}

/* ---- naming ----------------------------------------------------------------------------- */

enum { NAME_MAX_BYTES = 80 };

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (avail < n) return 0;
    unsigned cp = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Appends src[s..e) cleaned for display (see lang.h). Returns bytes appended. */
static size_t append_clean(sbuf_t *out, const char *src, size_t s, size_t e)
{
    size_t start = out->len;
    bool pending_space = false;
    for (size_t i = s; i < e;) {
        const unsigned char *p = (const unsigned char *)src + i;
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') {
            /* no space after a comma: ", " separates the entries of a definitions list */
            pending_space = out->len > start && out->data[out->len - 1] != ',';
            i++;
            continue;
        }
        size_t n = utf8_seq_len(p, e - i);
        bool bad = n == 0 || *p < 0x20 || *p == 0x7F;
        if (n == 0) n = 1;
        size_t need = (pending_space ? 1 : 0) + (bad ? 1 : n);
        if (out->len - start + need > NAME_MAX_BYTES) {
            sbuf_puts(out, "...");
            break;
        }
        if (pending_space) sbuf_putc(out, ' ');
        pending_space = false;
        if (bad)
            sbuf_putc(out, '?');
        else
            sbuf_append(out, (const char *)p, n);
        i += n;
    }
    return out->len - start;
}

static TSNode field(TSNode n, const char *name)
{
    return ts_node_child_by_field_name(n, name, (uint32_t)strlen(name));
}

static bool node_text(TSNode n, const char *src, size_t len, sbuf_t *out)
{
    if (ts_node_is_null(n)) return false;
    size_t s = ts_node_start_byte(n), e = ts_node_end_byte(n);
    if (e > len) e = len;
    if (s >= e) return false;
    return append_clean(out, src, s, e) > 0;
}

/* C/C++ declarators: function_declarator → pointer_declarator → … → identifier. */
static TSNode declarator_name(TSNode n)
{
    for (int depth = 0; depth < 64 && !ts_node_is_null(n); depth++) {
        if (strcmp(ts_node_type(n), "operator_cast") == 0) return n;
        TSNode d = field(n, "declarator");
        if (!ts_node_is_null(d)) {
            n = d;
            continue;
        }
        const char *kind = ts_node_type(n);
        size_t k = strlen(kind);
        /* Declarators without a `declarator` field (parenthesized, attributed, reference)
         * hold the inner declarator as their first named child. */
        if (k > 11 && strcmp(kind + k - 11, "_declarator") == 0 && ts_node_named_child_count(n)) {
            n = ts_node_named_child(n, 0);
            continue;
        }
        return n;
    }
    return (TSNode){0};
}

static bool is_function_value(TSNode v)
{
    if (ts_node_is_null(v)) return false;
    const char *k = ts_node_type(v);
    return strcmp(k, "arrow_function") == 0 || strcmp(k, "function_expression") == 0 ||
           strcmp(k, "function") == 0 || strcmp(k, "generator_function") == 0;
}

/* C++: is this function_definition directly in a class body (maybe through a template)? */
static bool in_class_body(TSNode n)
{
    TSNode p = ts_node_parent(n);
    if (!ts_node_is_null(p) && strcmp(ts_node_type(p), "template_declaration") == 0)
        p = ts_node_parent(p);
    return !ts_node_is_null(p) && strcmp(ts_node_type(p), "field_declaration_list") == 0;
}

bool lang_def_describe(int idx, int rule, TSNode node, const char *src, size_t len, sbuf_t *out)
{
    if (idx < 0 || idx >= (int)ARRAY_LEN(grammars) || rule < 0 || ts_node_is_null(node))
        return false;
    const def_rule_t *r = &grammars[idx].rules[rule];
    const char *fname = r->field ? r->field : "name";
    const char *label = r->label;
    if ((r->flags & NEED_BODY) && ts_node_is_null(field(node, "body"))) return false;
    if ((r->flags & METHOD_IN_CLASS) && in_class_body(node)) label = "method";

    size_t mark = out->len;
    sbuf_puts(out, label);
    sbuf_putc(out, ' ');
    bool ok = false;
    switch (r->how) {
    case NAME_FIELD:
        ok = node_text(field(node, fname), src, len, out);
        break;
    case NAME_DECLARATOR: {
        TSNode name = declarator_name(field(node, "declarator"));
        if (!ts_node_is_null(name) && strcmp(ts_node_type(name), "operator_cast") == 0) {
            sbuf_puts(out, "operator "); /* C++ conversion operator: named by its type */
            name = field(name, "type");
        }
        ok = node_text(name, src, len, out);
        break;
    }
    case NAME_FUNC_VALUE:
        ok =
            is_function_value(field(node, "value")) && node_text(field(node, fname), src, len, out);
        break;
    case NAME_SINGLETON: {
        ok = node_text(field(node, "object"), src, len, out);
        if (ok) {
            sbuf_putc(out, '.');
            ok = node_text(field(node, "name"), src, len, out);
        }
        break;
    }
    }
    if (!ok) {
        out->len = mark;
        if (out->data) out->data[mark] = 0;
    }
    return ok;
}
