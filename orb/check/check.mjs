// check.mjs: checks a packed orb (YAML or JSON on standard input) with
// CircleCI's own config parser, @circleci/circleci-config-parser (built on
// @circleci/circleci-config-sdk), which is what CircleCI publishes for
// reading configurations offline. It prints one problem per line and exits
// 1 when there is any.
//
// What it checks, with CircleCI's JSON schemas and parsers:
//   - every parameter declaration of every command, job and executor (type
//     names, enum values, defaults of the declared type), and that they
//     make an orb manifest;
//   - every command, job and executor against its schema;
//   - the orb's jobs parsed as a configuration with the orb's commands and
//     executors: steps, references to commands and executors;
//   - every example's usage parsed as a configuration that imports the orb
//     (its manifest): references to the orb's jobs and commands.
//
// The parser (an alpha) does not take three things CircleCI itself takes:
// an executor-typed parameter as a job's executor, `- steps: << parameters.x
// >>`, and a parameter as an executor's resource_class. Before parsing, each
// is replaced by its parameter's default, as CircleCI would expand an
// invocation without arguments. What the parser does not check at all
// (unknown keys, parameter usage, arguments' names and types, the orb
// development kit's review rules) internal/frontends checks in Go.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import parser from '@circleci/circleci-config-parser';
import sdk from '@circleci/circleci-config-sdk';

const { GenerableType, ParameterizedComponent } = sdk.mapping;
const wholeRef = /^<<\s*parameters\.([A-Za-z][\w-]*)\s*>>$/;

const orb = YAML.parse(readFileSync(0, 'utf8'));
const problems = [];
const clone = (x) => JSON.parse(JSON.stringify(x ?? {}));
const section = (name) => clone(orb?.[name]);

function schema(at, kind, data, subtype) {
  const r = parser.Validator.validateGenerable(kind, data, subtype);
  if (r === true) return;
  for (const e of r.errors ?? [{ instancePath: '', message: 'invalid' }]) {
    problems.push(`${at}${e.instancePath.replaceAll('/', '.')}: ${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}`);
  }
}

function attempt(at, f) {
  try {
    return f();
  } catch (e) {
    problems.push(`${at}: ${String(e.message ?? e).replace(/\s+/g, ' ').trim()}`);
    return undefined;
  }
}

// defaultOf is the default of the parameter a whole `<< parameters.x >>`
// names in el, or undefined.
function defaultOf(el, value) {
  const m = typeof value === 'string' && wholeRef.exec(value);
  return m ? el.parameters?.[m[1]]?.default : undefined;
}

// expand replaces what the parser cannot take by its default (see above).
function expand(el) {
  const out = clone(el);
  const executor = defaultOf(el, out.executor);
  if (executor !== undefined) out.executor = executor;
  const rc = defaultOf(el, out.resource_class);
  if (rc !== undefined) out.resource_class = rc;
  if (Array.isArray(out.steps)) {
    out.steps = out.steps.flatMap((s) => {
      const d = s && typeof s === 'object' && 'steps' in s ? defaultOf(el, s.steps) : undefined;
      return d !== undefined ? d : [s];
    });
  }
  return out;
}

const commands = section('commands');
const jobs = section('jobs');
const executors = section('executors');

const kinds = [
  ['commands', commands, GenerableType.REUSABLE_COMMAND, ParameterizedComponent.COMMAND],
  ['jobs', jobs, GenerableType.JOB, ParameterizedComponent.JOB],
  ['executors', executors, GenerableType.REUSABLE_EXECUTOR, ParameterizedComponent.EXECUTOR],
];
for (const [name, elements, kind, component] of kinds) {
  for (const [el, def] of Object.entries(elements)) {
    if (def.parameters !== undefined) {
      schema(`${name}.${el}.parameters`, GenerableType.CUSTOM_PARAMETERS_LIST, def.parameters, component);
    }
    const expanded = expand(def);
    delete expanded.parameters;
    schema(`${name}.${el}`, kind, expanded);
  }
}

const params = (elements) => Object.fromEntries(Object.entries(elements).map(([k, v]) => [k, v.parameters ?? {}]));
const manifest = attempt('manifest', () =>
  parser.parseOrbManifest({ commands: params(commands), jobs: params(jobs), executors: params(executors) }));

if (Object.keys(jobs).length > 0) {
  const config = {
    version: 2.1,
    commands,
    executors: Object.fromEntries(Object.entries(executors).map(([k, v]) => {
      const e = expand(v);
      delete e.parameters;
      delete e.description;
      return [k, e];
    })),
    jobs: Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, expand(v)])),
    workflows: { 'orb-jobs': { jobs: Object.keys(jobs) } },
  };
  attempt("the orb's jobs, commands and executors as a configuration", () => parser.parseConfig(config));
}

if (manifest) {
  for (const [name, ex] of Object.entries(section('examples'))) {
    const aliases = Object.keys(ex.usage?.orbs ?? {});
    if (aliases.length === 0) {
      problems.push(`examples.${name}.usage: imports no orb`);
      continue;
    }
    const manifests = Object.fromEntries(aliases.map((a) => [a, manifest]));
    // The parser also wants the jobs key a usage that runs only the orb's
    // jobs can leave out.
    const usage = { jobs: {}, ...ex.usage };
    attempt(`examples.${name}.usage`, () => parser.parseConfig(usage, manifests));
  }
}

if (problems.length > 0) {
  console.log(problems.join('\n'));
  process.exit(1);
}
