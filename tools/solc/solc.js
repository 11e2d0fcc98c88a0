#!/usr/bin/env node
// A `solc` command line for py-solc-x and brownie, backed by the npm package `solc` (solcjs).
//
// py-solc-x finds compilers as executables named `solc-v<version>` and calls them in two ways only:
//   solc --version                       -> must print "Version: X.Y.Z+commit.HASH"
//   solc --standard-json [--allow-paths P] [--base-path B]   (JSON in on stdin, JSON out on stdout)
// This script answers exactly those calls with solcjs's compile(), so that nothing has to download
// a native compiler. `make install` writes the `solc-v<version>` shim that execs this file.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require(path.join(__dirname, "..", "..", "node_modules", "solc"));

function writeAll(text) {
  // Write synchronously in a loop: a large output piped from node can be cut short otherwise.
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
  }
}

function optionValue(args, name) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
}

function main(args) {
  if (args.includes("--version")) {
    writeAll("solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n");
    return 0;
  }
  if (!args.includes("--standard-json")) {
    process.stderr.write("keel solc shim: only --version and --standard-json are supported\n");
    return 2;
  }
  const roots = [process.cwd()];
  for (const opt of ["--base-path", "--allow-paths", "--include-path"]) {
    const v = optionValue(args, opt);
    if (v) roots.push(...v.split(",").filter(Boolean));
  }
  const findImports = (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((r) => path.resolve(r, importPath));
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) {
        return { contents: fs.readFileSync(c, "utf8") };
      }
    }
    return { error: "File not found: " + importPath };
  };
  const input = fs.readFileSync(0, "utf8");
  writeAll(solc.compile(input, { import: findImports }));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
