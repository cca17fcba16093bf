#!/usr/bin/env python3
"""Write src/tokenizer/unicode_tables.inc: the Unicode facts that make attnscope's tokenizer read
text as Hugging Face's Rust `tokenizers` library does, where the libraries attnscope uses (GLib for
normalization, PCRE2 for patterns) follow another version of Unicode than the reference's.

    apt-get install unicode-data        # Debian's copy of the Unicode Character Database
    python3 tools/unicode/make_tables.py [/usr/share/unicode]

Two tables, as sorted, disjoint [first, last] code point ranges (issue #31, found by fuzzing):
  kNormalizerUnassigned  code points assigned after Unicode 9.0. The reference normalizes with the
                         `unicode-normalization-alignments` crate, whose tables are Unicode 9.0:
                         to it these are unassigned (combining class 0, no decomposition), so NFC
                         neither reorders nor composes them. GLib knows them; the normalizer passes
                         them through untouched, as boundaries of the runs GLib sees.
  kCategoryAdded         per general category, the code points assigned after Unicode 14.0, which
                         the reference's Oniguruma classifies (it follows Unicode 16.0: measured, it
                         knows the letters of 16.0's new scripts, Garay, Ol Onal, Kirat Rai, and
                         not those of 17.0's, Sidetic, Tai Yo, Beria Erfe) and Debian 12's PCRE2
                         10.42 (Unicode 14.0) does not: \\p{L}, \\p{N}, ... in a pattern get them
                         added (src/tokenizer/pattern.cpp). Harmless with a PCRE2 that knows them.
Ages come from the newest database Debian 12 ships (unicode-data 15.0.0: what is not in it was
assigned after 15.0, and is unknown to GLib 2.74 too); general categories of code points assigned
after 14.0 come from a JDK that follows Unicode 16.0 (Java 24 and 25; checked), through
Character.getType.
"""
import os
import sys

NORMALIZER_VERSION = (9, 0)   # unicode-normalization-alignments 0.1.12 (measured: tests/tokenizer/fuzz_hf.js)
PCRE2_VERSION = (14, 0)       # PCRE2 10.42


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def read_ages(ucd):
    age = {}
    with open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            cps, v = [x.strip() for x in line.split(";")]
            lo, _, hi = cps.partition("..")
            ver = tuple(int(x) for x in v.split("."))
            for c in range(int(lo, 16), int(hi or lo, 16) + 1):
                age[c] = ver
    return age


def read_categories(ucd):
    cat = {}
    first = None
    with open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.split(";")
            c, name, gc = int(fields[0], 16), fields[1], fields[2]
            if name.endswith(", First>"):
                first = c
                continue
            if name.endswith(", Last>"):
                for x in range(first, c + 1):
                    cat[x] = gc
                continue
            cat[c] = gc
    return cat


JAVA_SOURCE = r"""
public class Categories {
    // Character.getType's values, in order, as two-letter general categories
    static final String[] NAMES = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl",
        "Zp", "Cc", "Cf", "", "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi", "Pf"};
    public static void main(String[] args) throws Exception {
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
        StringBuilder out = new StringBuilder();
        for (String line; (line = in.readLine()) != null;) {
            int c = Integer.parseInt(line.trim());
            int t = Character.getType(c);
            if (t != 0) out.append(c).append(' ').append(NAMES[t]).append('\n');
        }
        System.out.print(out);
    }
}
"""


def java_categories(java, cps):
    """General categories per the JDK's Character.getType (Unicode 16.0 required) for the code
    points given; unassigned ones are left out."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "Categories.java")
        with open(src, "w") as f:
            f.write(JAVA_SOURCE)
        probe = [0x10D50, 0x10940]  # Garay (16.0) must be assigned, Sidetic (17.0) must not
        r = subprocess.run([java, src], input="\n".join(str(c) for c in probe + cps), capture_output=True,
                           text=True, check=True)
    got = {}
    for line in r.stdout.split("\n"):
        if line:
            c, gc = line.split()
            got[int(c)] = gc
    if 0x10D50 not in got or 0x10940 in got:
        sys.exit(f"make_tables.py: {java} does not follow Unicode 16.0 (the reference's Oniguruma does); "
                 "give a JDK 24 or 25 with --java")
    return {c: gc for c, gc in got.items() if c not in probe or c in cps}


def emit(name, rs):
    lines = [f"inline constexpr CodePointRange {name}[] = {{"]
    row = ""
    for lo, hi in rs:
        item = f"{{0x{lo:X}, 0x{hi:X}}}, "
        if len(row) + len(item) > 110:
            lines.append("    " + row.rstrip())
            row = ""
        row += item
    if row:
        lines.append("    " + row.rstrip())
    lines.append("};")
    return "\n".join(lines)


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("ucd", nargs="?", default="/usr/share/unicode")
    ap.add_argument("--java", default="/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", help="a JDK following Unicode 16.0")
    a = ap.parse_args()
    ucd, java = a.ucd, a.java
    age, cat = read_ages(ucd), read_categories(ucd)
    with open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8") as f:
        version = f.readline().strip("# \n")
    late = [c for c, v in age.items() if v > NORMALIZER_VERSION and not 0xD800 <= c <= 0xDFFF]
    added = {}
    late_cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and (c not in age or age[c] > PCRE2_VERSION)]
    for c, gc in java_categories(java, late_cps).items():
        added.setdefault(gc, []).append(c)
    out = [
        "// Generated by tools/unicode/make_tables.py from " + version + " (Debian's unicode-data); do not edit.",
        "// What each table means: that script's docstring. Ranges are [first, last], sorted, disjoint.",
        "#pragma once",
        "",
        "#include <cstdint>",
        "",
        "namespace attnscope::unicode {",
        "",
        "struct CodePointRange {",
        "    uint32_t first, last;",
        "};",
        "",
        "// Assigned after Unicode %d.%d: unassigned to the reference's normalizer." % NORMALIZER_VERSION,
        emit("kNormalizerUnassigned", ranges(late)),
        "",
        "// Assigned after Unicode %d.%d (PCRE2 10.42) up to 16.0 (the reference's Oniguruma), by general category."
        % PCRE2_VERSION,
    ]
    names = sorted(added)
    for gc in names:
        out.append(emit("kAdded" + gc, ranges(added[gc])))
    out.append("")
    out.append("struct CategoryAdditions {")
    out.append("    const char* category; // two letters, as \\p{..} writes it")
    out.append("    const CodePointRange* ranges;")
    out.append("    int count;")
    out.append("};")
    out.append("inline constexpr CategoryAdditions kCategoryAdded[] = {")
    for gc in names:
        out.append(f'    {{"{gc}", kAdded{gc}, int(sizeof kAdded{gc} / sizeof kAdded{gc}[0])}},')
    out.append("};")
    out.append("")
    out.append("} // namespace attnscope::unicode")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "tokenizer",
                        "unicode_tables.inc")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)
    print(f"{path}: {len(ranges(late))} normalizer ranges; added categories " +
          ", ".join(f"{gc} {len(added[gc])}" for gc in names))


if __name__ == "__main__":
    main()
