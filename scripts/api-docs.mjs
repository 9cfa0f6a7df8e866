// Generates docs/api-reference.md from the TSDoc comments of everything src/index.ts exports,
// with the TypeScript compiler API. The output depends only on the sources (export order, no
// timestamps, no absolute paths), so CI can regenerate it and fail when the committed copy differs.
//
//   node scripts/api-docs.mjs            (npm run docs:api)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src') + path.sep;
const ENTRY = path.join(ROOT, 'src', 'index.ts');
const OUT = path.join(ROOT, 'docs', 'api-reference.md');
const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;

const config = ts.getParsedCommandLineOfConfigFile(
  path.join(ROOT, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
// Every file under src/, so that error codes can be collected from every `new XError(...)`.
const program = ts.createProgram(
  config.fileNames.filter((f) => path.resolve(f).startsWith(SRC)),
  config.options,
);
const checker = program.getTypeChecker();
const ourFiles = program.getSourceFiles().filter((f) => path.resolve(f.fileName).startsWith(SRC));

const resolve = (symbol) =>
  symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
const isOurs = (symbol) =>
  Boolean(symbol?.declarations?.some((d) => path.resolve(d.getSourceFile().fileName).startsWith(SRC)));

// ---------------------------------------------------------------------------------------------
// What is exported, in the order src/index.ts exports it.

const exported = [];
for (const statement of program.getSourceFile(ENTRY).statements) {
  if (!ts.isExportDeclaration(statement) || !statement.exportClause) continue;
  for (const element of statement.exportClause.elements) {
    exported.push({ name: element.name.text, symbol: resolve(checker.getSymbolAtLocation(element.name)) });
  }
}
const exportedSymbols = new Set(exported.map((e) => e.symbol));
/** Interfaces the exported API mentions but src/index.ts does not export; documented at the end. */
const referenced = [];

// ---------------------------------------------------------------------------------------------
// Doc comments and types as text.

/** TSDoc display parts as Markdown: `{@link X}` becomes `X` in backticks. */
function partsText(parts = []) {
  let out = '';
  for (const part of parts) {
    if (part.kind === 'link') continue;
    out += part.kind === 'linkName' ? `\`${part.text}\`` : part.text;
  }
  return out.trim();
}

function docOf(symbol) {
  const tags = symbol.getJsDocTags(checker).map((t) => ({ name: t.name, text: partsText(t.text) }));
  return { text: partsText(symbol.getDocumentationComment(checker)), tags };
}

const tag = (doc, name) => doc.tags.find((t) => t.name === name)?.text;
const oneLine = (text) => text.replace(/\s+/g, ' ').trim();
const cell = (text) => oneLine(text).replace(/\|/g, '\\|');

/**
 * A type annotation as written. Types src/index.ts does not export are spelled out when they are
 * aliases (`SymlinkPolicy` → `'follow' | 'preserve'`) or indexed accesses, and queued for the
 * "Referenced types" section when they are interfaces.
 */
function typeText(node) {
  if (!node) return '';
  let expand = false;
  const interfaces = [];
  const visit = (n) => {
    if (ts.isIndexedAccessTypeNode(n)) expand = true;
    if (ts.isTypeReferenceNode(n) || ts.isExpressionWithTypeArguments(n)) {
      const target = resolve(
        checker.getSymbolAtLocation(ts.isTypeReferenceNode(n) ? n.typeName : n.expression),
      );
      if (target && isOurs(target) && !exportedSymbols.has(target)) {
        if (target.flags & ts.SymbolFlags.TypeAlias) expand = true;
        else if (target.flags & ts.SymbolFlags.Interface) interfaces.push(target);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  if (!expand) {
    for (const target of interfaces) if (!referenced.includes(target)) referenced.push(target);
    return oneLine(node.getText());
  }
  return checker.typeToString(
    checker.getTypeFromTypeNode(node),
    undefined,
    FLAGS | ts.TypeFormatFlags.InTypeAlias,
  );
}

/** `name(a: A, b?: B): R` from a function-like declaration, as written (initializers become `?`). */
function signature(name, decl) {
  const typeParams = decl.typeParameters ? `<${decl.typeParameters.map((t) => t.getText()).join(', ')}>` : '';
  const params = decl.parameters.map((p) => {
    const optional = p.questionToken || p.initializer ? '?' : '';
    return `${p.dotDotDotToken ? '...' : ''}${p.name.getText()}${optional}: ${typeText(p.type)}`;
  });
  const returns = decl.type ? `: ${typeText(decl.type)}` : '';
  return `${name}${typeParams}(${params.join(', ')})${returns}`;
}

/** The description, then the tags other than @default (shown in their own column or line). */
function describe(doc, { inline = false } = {}) {
  const parts = doc.text ? [doc.text] : [];
  for (const t of doc.tags) {
    if (t.name === 'default') continue;
    if (t.name === 'example' && inline) parts.push(`Example: \`${oneLine(t.text)}\`.`);
    else if (t.name === 'example') parts.push(`Example:\n\n\`\`\`ts\n${t.text}\n\`\`\``);
    else parts.push(`@${t.name} ${t.text}`);
  }
  return parts.join(inline ? ' ' : '\n\n');
}

// ---------------------------------------------------------------------------------------------
// Sections.

function renderFunction({ name, symbol }) {
  const decls = symbol.declarations.filter(ts.isFunctionDeclaration);
  const doc = docOf(symbol);
  const out = [`### ${name}`, '', '```ts', ...decls.map((d) => `function ${signature(name, d)}`), '```', ''];
  if (doc.text || doc.tags.length) out.push(describe(doc), '');
  if (tag(doc, 'default')) out.push(`Default: \`${tag(doc, 'default')}\``, '');
  return out;
}

function memberRows(members) {
  const rows = [];
  for (const m of members) {
    if (!m.name || ts.isPrivateIdentifier(m.name) || ts.isConstructorDeclaration(m)) continue;
    const flags = ts.getCombinedModifierFlags(m);
    if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
    const symbol = m.symbol ?? checker.getSymbolAtLocation(m.name);
    const doc = docOf(symbol);
    const isMethod = ts.isMethodSignature(m) || ts.isMethodDeclaration(m);
    const prefix =
      flags & ts.ModifierFlags.Static ? 'static ' : flags & ts.ModifierFlags.Readonly ? 'readonly ' : '';
    const label = isMethod
      ? signature(m.name.getText(), m)
      : `${m.name.getText()}${m.questionToken ? '?' : ''}`;
    const type = isMethod ? '' : m.type ? typeText(m.type) : (m.initializer?.getText() ?? '');
    rows.push(
      `| \`${cell(prefix + label)}\` | ${type ? `\`${cell(type)}\`` : ''} | ${
        tag(doc, 'default') ? `\`${cell(tag(doc, 'default'))}\`` : ''
      } | ${cell(describe(doc, { inline: true }))} |`,
    );
  }
  return rows.length ? ['| member | type | default | description |', '|---|---|---|---|', ...rows, ''] : [];
}

function heritage(decl) {
  const out = [];
  for (const clause of decl.heritageClauses ?? []) {
    const word = clause.token === ts.SyntaxKind.ExtendsKeyword ? 'Extends' : 'Implements';
    const bases = clause.types.map((t) => {
      const target = resolve(checker.getSymbolAtLocation(t.expression));
      const text = typeText(t);
      const linked = exportedSymbols.has(target) || referenced.includes(target);
      return linked ? `[\`${text}\`](#${text.toLowerCase()})` : `\`${text}\``;
    });
    out.push(`${word} ${bases.join(', ')}.`, '');
  }
  return out;
}

function renderInterface({ name, symbol }) {
  const decl = symbol.declarations.find(ts.isInterfaceDeclaration);
  const doc = docOf(symbol);
  return [
    `### ${name}`,
    '',
    ...(doc.text ? [describe(doc), ''] : []),
    ...heritage(decl),
    ...memberRows(decl.members),
  ];
}

function renderTypeAlias({ name, symbol }) {
  const decl = symbol.declarations.find(ts.isTypeAliasDeclaration);
  const doc = docOf(symbol);
  const text = decl.type.getText().replace(/\n\s*/g, '\n  ');
  const declaration = text.startsWith('|') ? `type ${name} =\n  ${text};` : `type ${name} = ${text};`;
  return [`### ${name}`, '', '```ts', declaration, '```', '', ...(doc.text ? [describe(doc), ''] : [])];
}

function renderConstant({ name, symbol }) {
  const decl = symbol.declarations.find(ts.isVariableDeclaration);
  const doc = docOf(symbol);
  const type = decl.type
    ? typeText(decl.type)
    : checker.typeToString(checker.getTypeAtLocation(decl), decl, FLAGS);
  const init = decl.initializer ? ` = ${decl.initializer.getText()}` : '';
  return [
    `### ${name}`,
    '',
    '```ts',
    `const ${name}: ${type}${init};`,
    '```',
    '',
    ...(doc.text ? [describe(doc), ''] : []),
  ];
}

/** Error codes a class can carry: literals in its own body plus those passed to `new Class(...)` anywhere in src/. */
function errorCodes(symbol, decl) {
  const codes = new Set();
  const literal = (n) => ts.isStringLiteralLike(n) && /^ERR_FERRY_[A-Z_]+$/.test(n.text) && codes.add(n.text);
  const inClass = (n) => {
    literal(n);
    ts.forEachChild(n, inClass);
  };
  inClass(decl);
  const sites = (n) => {
    if (
      ts.isNewExpression(n) &&
      n.arguments?.length &&
      resolve(checker.getSymbolAtLocation(n.expression)) === symbol
    ) {
      literal(n.arguments[0]);
    }
    ts.forEachChild(n, sites);
  };
  for (const file of ourFiles) sites(file);
  return [...codes].sort();
}

function renderClass({ name, symbol }) {
  const decl = symbol.declarations.find(ts.isClassDeclaration);
  const doc = docOf(symbol);
  const out = [`### ${name}`, '', ...(doc.text ? [describe(doc), ''] : []), ...heritage(decl)];
  const ctor = decl.members.find(ts.isConstructorDeclaration);
  if (ctor) out.push('```ts', `new ${signature(name, ctor)}`, '```', '');
  const base = decl.heritageClauses?.[0]?.types[0];
  if (base && exportedSymbols.has(resolve(checker.getSymbolAtLocation(base.expression)))) {
    const codes = errorCodes(symbol, decl);
    out.push(
      codes.length
        ? `Codes: ${codes.map((c) => `\`${c}\``).join(', ')}.`
        : 'Codes: any [`FerryErrorCode`](#ferryerrorcode), chosen where it is thrown.',
      '',
    );
  } else {
    out.push('Codes: every [`FerryErrorCode`](#ferryerrorcode); subclasses narrow them down.', '');
  }
  return [...out, ...memberRows(decl.members)];
}

// ---------------------------------------------------------------------------------------------
// The document.

const kinds = [
  ['Functions', ts.SymbolFlags.Function, renderFunction],
  ['Error classes', ts.SymbolFlags.Class, renderClass],
  ['Interfaces', ts.SymbolFlags.Interface, renderInterface],
  ['Types', ts.SymbolFlags.TypeAlias, renderTypeAlias],
  ['Constants', ts.SymbolFlags.Variable, renderConstant],
];

const body = [];
const contents = [];
for (const [title, flag, render] of kinds) {
  const items = exported.filter((e) => e.symbol.flags & flag);
  if (!items.length) continue;
  contents.push(`- ${title}: ${items.map((e) => `[${e.name}](#${e.name.toLowerCase()})`).join(', ')}`);
  body.push(`## ${title}`, '');
  for (const item of items) body.push(...render(item));
}
if (referenced.length)
  body.push(
    '## Referenced types',
    '',
    'Interfaces the exports above extend, take or return without exporting them.',
    '',
  );
for (let i = 0; i < referenced.length; i++)
  body.push(...renderInterface({ name: referenced[i].name, symbol: referenced[i] }));

const header = [
  '# API reference',
  '',
  '<!-- Generated by scripts/api-docs.mjs from the TSDoc comments in src/. Do not edit: run `npm run docs:api`. -->',
  '',
  'Everything `ferry-artifact` exports (`src/index.ts`), in export order within each section. The',
  'guide to the same API is [api.md](api.md); options and environment variables are in',
  '[configuration.md](configuration.md).',
  '',
  ...contents,
  '',
];
writeFileSync(
  OUT,
  `${[...header, ...body]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`,
);
console.log(`wrote ${path.relative(ROOT, OUT)}`);
