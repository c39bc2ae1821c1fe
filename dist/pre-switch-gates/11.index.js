export const id = 11;
export const ids = [11];
export const modules = {

/***/ 3011:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   parseGates: () => (/* binding */ parseGates)
/* harmony export */ });
/* harmony import */ var yaml__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8815);
/* harmony import */ var zod__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(9691);
/* harmony import */ var zod__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(8532);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7638);
/* harmony import */ var _inputs_duration_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(1003);
/* harmony import */ var _inputs_lists_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(2594);
/* harmony import */ var _http_expectations_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(3427);
/* harmony import */ var _model_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(3303);







const SIZE = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SIZE_UNIT = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
function parseSize(value) {
    if (typeof value === 'number')
        return Number.isInteger(value) && value >= 0 ? value : undefined;
    if (typeof value !== 'string')
        return undefined;
    const match = SIZE.exec(value.trim());
    if (!match)
        return undefined;
    return Number(match[1]) * SIZE_UNIT[(match[2] ?? 'b')[0].toLowerCase()];
}
const pathSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be a path relative to the release directory' }).transform((text, ctx) => {
    const result = (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .releasePath */ .bD)(text);
    if ('problem' in result) {
        ctx.addIssue({ code: 'custom', message: result.problem });
        return zod__WEBPACK_IMPORTED_MODULE_7__/* .NEVER */ .tm;
    }
    return result.value;
});
const nameSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be text' }).trim().min(1, { message: 'is empty' }).optional();
const sizeSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .unknown */ .L5J().transform((value, ctx) => {
    const size = parseSize(value);
    if (size === undefined) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a size; write bytes (1024) or with a unit (10k, 2M)` });
        return zod__WEBPACK_IMPORTED_MODULE_7__/* .NEVER */ .tm;
    }
    return size;
});
const booleanSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .unknown */ .L5J().transform((value, ctx) => {
    const parsed = typeof value === 'boolean' ? value : typeof value === 'string' ? (0,_inputs_lists_js__WEBPACK_IMPORTED_MODULE_3__/* .parseBoolean */ .yG)(value) : undefined;
    if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a boolean; write true or false` });
        return zod__WEBPACK_IMPORTED_MODULE_7__/* .NEVER */ .tm;
    }
    return parsed;
});
const durationSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .unknown */ .L5J().transform((value, ctx) => {
    const ms = typeof value === 'string' ? (0,_inputs_duration_js__WEBPACK_IMPORTED_MODULE_2__/* .parseDuration */ .E9)(value) : undefined;
    if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration above 0; ${_inputs_duration_js__WEBPACK_IMPORTED_MODULE_2__/* .DURATION_HINT */ .Fp}` });
        return zod__WEBPACK_IMPORTED_MODULE_7__/* .NEVER */ .tm;
    }
    return ms;
});
const regexSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be a regular expression' }).transform((text, ctx) => {
    try {
        return new RegExp(text, 'm');
    }
    catch (error) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a valid regular expression: ${error.message}` });
        return zod__WEBPACK_IMPORTED_MODULE_7__/* .NEVER */ .tm;
    }
});
const assertionsSchema = zod__WEBPACK_IMPORTED_MODULE_6__/* .union */ .KCZ([zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP(), zod__WEBPACK_IMPORTED_MODULE_6__/* .array */ .YOg(zod__WEBPACK_IMPORTED_MODULE_6__/* .union */ .KCZ([zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP(), zod__WEBPACK_IMPORTED_MODULE_6__/* .number */ .aig(), zod__WEBPACK_IMPORTED_MODULE_6__/* .boolean */ .zMY()]))], {
    error: 'must be path=value lines (a block of lines or a list), e.g. name=acme/app',
}).transform((value, ctx) => {
    const items = typeof value === 'string' ? (0,_inputs_lists_js__WEBPACK_IMPORTED_MODULE_3__/* .parseList */ .E1)(value) : value.map(String);
    const assertions = [];
    for (const item of items) {
        const result = (0,_http_expectations_js__WEBPACK_IMPORTED_MODULE_4__/* .parseJsonAssertion */ .YE)(item);
        if ('problem' in result)
            ctx.addIssue({ code: 'custom', message: result.problem });
        else
            assertions.push(result.value);
    }
    return assertions;
});
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;
/** What each kind accepts, keyed as written in YAML; strict, so a misspelt key is named with the valid ones. */
const KIND_SCHEMAS = {
    file: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({ file: pathSchema, name: nameSchema, 'min-size': sizeSchema.optional() }),
    dir: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({ dir: pathSchema, name: nameSchema, writable: booleanSchema.optional() }),
    absent: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({ absent: pathSchema, name: nameSchema }),
    symlink: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({ symlink: pathSchema, name: nameSchema, 'points-to': zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be the link target as text' }).trim().min(1, { error: 'is empty; write the link target' }).optional() }),
    json: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({ json: pathSchema, name: nameSchema, expect: assertionsSchema.optional() }),
    command: zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({
        command: zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be a shell command' }).trim().min(1, { message: 'is empty; write the shell command to run' }),
        name: nameSchema,
        'expect-exit': zod__WEBPACK_IMPORTED_MODULE_6__/* .number */ .aig({ error: 'must be an exit code from 0 to 255' }).int({ error: 'must be an exit code from 0 to 255' }).min(0, { error: 'must be an exit code from 0 to 255' }).max(255, { error: 'must be an exit code from 0 to 255' }).optional(),
        'expect-output': regexSchema.optional(),
        timeout: durationSchema.optional(),
    }),
    'env-match': zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({
        'env-match': zod__WEBPACK_IMPORTED_MODULE_6__/* .strictObject */ .rej({
            file: pathSchema.optional(),
            key: zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be the variable name, e.g. HEALTHCHECK_TOKEN' }).regex(ENV_KEY, { message: 'must be a variable name such as HEALTHCHECK_TOKEN' }),
            secret: zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be text: put the secret in quotes (secret: "${{ secrets.HEALTHCHECK_TOKEN }}"), or use secret-env' }).optional(),
            'secret-env': zod__WEBPACK_IMPORTED_MODULE_6__/* .string */ .YjP({ error: 'must be the name of an environment variable' }).regex(ENV_KEY, { message: 'must be an environment variable name' }).optional(),
        }, { error: 'must be a mapping: {file: .env, key: HEALTHCHECK_TOKEN, secret: …}' }),
        name: nameSchema,
    }),
};
const validKeys = (kind) => Object.keys(KIND_SCHEMAS[kind].shape);
class Problems {
    lineCounter;
    list = [];
    constructor(lineCounter) {
        this.lineCounter = lineCounter;
    }
    at(node, message) {
        const offset = node?.range?.[0];
        this.list.push(offset === undefined ? message : `line ${this.lineCounter.linePos(offset).line}: ${message}`);
    }
}
/** The key node at a path of nested mappings (the deepest that exists), for the line number of a problem. */
function keyNode(map, path) {
    let current = map;
    let found;
    for (const segment of path) {
        if (!(0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isMap */ .jh)(current))
            break;
        const pair = current.items.find((item) => (0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isScalar */ .jn)(item.key) && item.key.value === segment);
        if (!pair)
            break;
        found = pair.key;
        current = pair.value;
    }
    return found;
}
function valueAtPath(data, path) {
    let current = data;
    for (const segment of path) {
        if (current === null || typeof current !== 'object')
            return undefined;
        current = current[segment];
    }
    return current;
}
function toGate(kind, data, env, fail) {
    switch (kind) {
        case 'file':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, path: data.file, minSize: data['min-size'] });
        case 'dir':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, path: data.dir, writable: data.writable ?? false });
        case 'absent':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, path: data.absent });
        case 'symlink':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, path: data.symlink, pointsTo: data['points-to'] });
        case 'json':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, path: data.json, expect: data.expect ?? [] });
        case 'command':
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({
                kind,
                name: data.name,
                command: data.command,
                expectExit: data['expect-exit'] ?? 0,
                expectOutput: data['expect-output'],
                timeoutMs: data.timeout,
            });
        case 'env-match': {
            const spec = data['env-match'];
            if ((spec.secret === undefined) === (spec['secret-env'] === undefined)) {
                fail(['env-match'], 'env-match needs exactly one of secret (the value, e.g. ${{ secrets.HEALTHCHECK_TOKEN }}) or secret-env (the name of a step environment variable holding it)');
                return undefined;
            }
            let secret = spec.secret;
            if (spec['secret-env'] !== undefined) {
                secret = env?.(spec['secret-env']);
                if (!secret) {
                    fail(['env-match', 'secret-env'], `environment variable ${spec['secret-env']} is not set or empty; add it to the step: env: { ${spec['secret-env']}: \${{ secrets.${spec['secret-env']} }} }`);
                    return undefined;
                }
            }
            if (!secret) {
                fail(['env-match', 'secret'], 'the secret is empty (is the GitHub secret defined and available to this job?)');
                return undefined;
            }
            return (0,_model_js__WEBPACK_IMPORTED_MODULE_5__/* .gate */ .Gj)({ kind, name: data.name, file: spec.file ?? '.env', key: spec.key, secret });
        }
    }
}
/**
 * Parses a YAML list of gates. Every problem is collected with its line number and reported at once;
 * no message ever quotes an env-match secret.
 */
function parseGates(text, { source, env }) {
    const lineCounter = new yaml__WEBPACK_IMPORTED_MODULE_0__/* .LineCounter */ .HN();
    const document = (0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .parseDocument */ .Tp)(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const problems = new Problems(lineCounter);
    const kindsHint = `valid kinds: ${_model_js__WEBPACK_IMPORTED_MODULE_5__/* .GATE_KINDS */ .WT.join(', ')}`;
    for (const error of document.errors) {
        // Only the first line of the message: the rest is a code frame that could show a secret.
        const line = lineCounter.linePos(Math.min(error.pos[0], Math.max(text.length - 1, 0))).line;
        const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        problems.list.push(line ? `line ${line}: ${message}` : message);
    }
    if (problems.list.length > 0)
        throw gatesError(source, problems.list);
    const root = document.contents;
    if (root === null || ((0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isScalar */ .jn)(root) && (root.value === null || root.value === '')))
        return [];
    if (!(0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isSeq */ .oP)(root)) {
        problems.at(root, `gates must be a YAML list, one gate per item (e.g. "- file: artisan"); ${kindsHint}`);
        throw gatesError(source, problems.list);
    }
    const gates = [];
    for (const item of root.items) {
        if (!(0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isMap */ .jh)(item)) {
            problems.at(item, `a gate is a mapping whose key names its kind, e.g. "- file: artisan" or "- dir: storage"; ${kindsHint}`);
            continue;
        }
        const keys = item.items.map((pair) => ((0,yaml__WEBPACK_IMPORTED_MODULE_0__/* .isScalar */ .jn)(pair.key) ? String(pair.key.value) : String(pair.key)));
        const kinds = _model_js__WEBPACK_IMPORTED_MODULE_5__/* .GATE_KINDS */ .WT.filter((kind) => keys.includes(kind));
        if (kinds.length !== 1) {
            const unknown = keys.filter((key) => key !== 'name' && !_model_js__WEBPACK_IMPORTED_MODULE_5__/* .GATE_KINDS */ .WT.includes(key));
            problems.at(item, kinds.length === 0
                ? `unknown gate kind${unknown.length ? ` "${unknown[0]}"` : ''}; ${kindsHint}`
                : `one gate has several kinds (${kinds.join(', ')}); write one list item per gate`);
            continue;
        }
        const kind = kinds[0];
        const data = item.toJSON();
        const result = KIND_SCHEMAS[kind].safeParse(data);
        const fail = (path, message) => problems.at(keyNode(item, path) ?? item, message);
        if (!result.success) {
            for (const issue of result.error.issues) {
                if (issue.code === 'unrecognized_keys') {
                    const nested = issue.path.length > 0;
                    const keysHere = nested ? Object.keys(KIND_SCHEMAS['env-match'].shape['env-match'].shape) : validKeys(kind);
                    for (const key of issue.keys) {
                        fail([...issue.path, key], `unknown key "${key}" for ${nested ? 'env-match' : `a ${kind} gate`}; valid keys: ${keysHere.join(', ')}`);
                    }
                }
                else {
                    const label = issue.path.length > 0 ? issue.path.join('.') : kind;
                    const missing = issue.code === 'invalid_type' && valueAtPath(data, issue.path) === undefined;
                    fail(issue.path, missing ? `${label} is required for a ${kind} gate` : `${label} ${issue.message}`);
                }
            }
            continue;
        }
        const parsed = toGate(kind, result.data, env, fail);
        if (parsed)
            gates.push(parsed);
    }
    if (problems.list.length > 0)
        throw gatesError(source, problems.list);
    return gates;
}
function gatesError(source, problems) {
    const hint = 'Fix the YAML (see the gate reference in the README).';
    return new _errors_js__WEBPACK_IMPORTED_MODULE_1__/* .UserError */ .y(problems.length === 1 ? `${source}: ${problems[0]}. ${hint}` : `${source} has ${problems.length} problems:\n- ${problems.join('\n- ')}\n${hint}`);
}


/***/ })

};
