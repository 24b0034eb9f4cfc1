// Renders TeX formulas to HTML with KaTeX, for tools/site.py (the course site typesets its math at
// build time: the pages carry finished HTML + MathML and load no math script).
//
//   node tools/katex_render.js PATH/TO/node_modules/katex  < formulas.json  > rendered.json
//
// stdin: a JSON array of {"tex": "...", "display": true|false}; stdout: a JSON array of the same
// length, each {"html": "..."} or {"error": "KaTeX's parse error message"}.  Nothing is thrown: the
// caller reports every failed formula with the page it is on.
"use strict";

const katex = require(require("path").resolve(process.argv[2]));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(({tex, display}) => {
    try {
      // throwOnError: a formula KaTeX cannot parse is an error, never red source text on the page;
      // trust false (the default): no \href, \url, \includegraphics or \html... in a formula
      return {html: katex.renderToString(tex, {displayMode: !!display, throwOnError: true, output: "htmlAndMathml",
                                              strict: "ignore", trust: false})};
    } catch (e) {
      return {error: String(e && e.message || e)};
    }
  });
  process.stdout.write(JSON.stringify(out));
});
