// A Jest transform for @actions/workflow-parser: its ESM files import the workflow schema as
// `import Schema from "../workflow-v1.0.min.json"`, which Node (and Jest's ESM loader) accept only with
// `with { type: "json" }`. This adds the attribute to such static imports, and changes nothing else.
const { createHash } = require('node:crypto');

const jsonImport = /(\bfrom\s*(["'])[^"']+\.json\2)(\s*;)/g;

module.exports = {
  process(source) {
    return { code: source.replace(jsonImport, '$1 with { type: "json" }$3') };
  },
  getCacheKey(source, path) {
    return createHash('sha256')
      .update('json-import-attributes-1\0')
      .update(path)
      .update('\0')
      .update(source)
      .digest('hex');
  },
};
