/**
 * The port's filter subset and sort, translated to SQLite over `doc` (the document as JSON, without `id`)
 * with MongoDB's meaning (see port.ts, "Semantics"). Values are always bound parameters. Indexed fields
 * (schema.ts) are addressed by literal JSON paths so the expression indexes apply; any other field's path is
 * bound as a parameter too.
 *
 * `json_extract` returns SQL NULL for both JSON null and a missing field, and 1/0 for true/false, so every
 * test also looks at `json_type`, and values are compared within their MongoDB type bracket.
 */
import { IpamError } from '../errors';
import type { Comparison, Condition, Filter, Scalar } from './port';

/** Field names of the indexes (schema.ts): safe identifiers, inlined so the planner matches the index expressions. */
const SAFE_FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** MongoDB's sort order of types: null (and missing) < numbers < strings < objects < arrays < booleans. */
export function rankSql(path: string): string {
  return `(CASE json_type(doc, ${path}) WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END)`;
}

export function valueSql(path: string): string {
  return `json_extract(doc, ${path})`;
}

/** A top-level field whose name is a plain identifier: its JSON path can be written into the SQL. */
export function isPlainField(field: string): boolean {
  return SAFE_FIELD.test(field);
}

/** The literal JSON path of an indexed field, as it appears in the index definitions. */
export function literalPath(field: string): string {
  if (!isPlainField(field)) throw new Error(`index field ${JSON.stringify(field)} is not a plain identifier`);
  return `'$.${field}'`;
}

/** The JSON path of any field name (dotted for subdocuments), for binding as a parameter. */
export function jsonPath(field: string): string {
  const path = storablePath(field);
  if (path === undefined) throw new IpamError('VALIDATION', `field ${JSON.stringify(field)}: not a storable field name`, { field, value: field });
  return path;
}

function storablePath(field: string): string | undefined {
  const segments = field.split('.');
  if (segments.some((segment) => segment === '' || segment.startsWith('$') || segment.includes('"') || /[\u0000-\u001f]/.test(segment))) return undefined;
  return `$${segments.map((s) => `."${s}"`).join('')}`;
}

export function rank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return 1;
  if (typeof value === 'string') return 2;
  if (typeof value === 'boolean') return 5;
  return Array.isArray(value) ? 4 : 3;
}

/** A test of one scalar given as SQL: its value, its json_type, or (indexed fields) its rank instead. */
type Scalar1 = (value: string, type: string, rankOf?: string) => string;

/**
 * Parameters are named by their place in the filter (`v<field>_<op>[_<element>]` for operands, `f<field>` and
 * `s<sort term>` for bound paths), never by the order they are bound in: the SQL of one filter shape then
 * serves every filter of that shape, with `parametersOf` for its values (SqliteCollection caches it by `shapeOf`).
 */
class Builder {
  readonly params: Record<string, unknown> = {};
  /** The parameter name of the path of the field being translated. */
  private pathName = '';
  /** Indexed fields the filter holds to one type (a comparison): their sort needs no rank term. */
  private readonly pinned = new Set<string>();
  constructor(private readonly indexed: Set<string>) {}

  private bind(name: string, value: unknown): string {
    this.params[name] = value;
    return `@${name}`;
  }

  /** Where the field lives: a path, inlined for indexed fields, else a parameter. */
  private path(field: string): string {
    return this.indexed.has(field) ? literalPath(field) : this.bind(this.pathName, jsonPath(field));
  }

  filter(filter: Filter): string {
    const terms = Object.entries(filter).map(([field, condition], i) => {
      this.pathName = `f${i}`;
      return this.condition(field, condition, `v${i}`);
    });
    return terms.length > 0 ? terms.join(' AND ') : '1';
  }

  private condition(field: string, condition: Condition, name: string): string {
    const ops = operatorsOf(condition);
    if (ops.length === 0) throw invalidFilter(field, condition);
    return ops.map(([op, operand], j) => this.operator(field, op, operand, `${name}_${j}`)).join(' AND ');
  }

  private operator(field: string, op: string, operand: unknown, name: string): string {
    switch (op) {
      case '$eq':
        return this.test(field, (v, t, r) => this.equals(v, t, operand as Scalar, name, r), operand === null);
      case '$ne':
        return `NOT (${this.operator(field, '$eq', operand, name)})`;
      case '$in': {
        if (!Array.isArray(operand)) throw invalidFilter(field, operand);
        if (operand.length === 0) return '0';
        const hasNull = operand.includes(null);
        return this.test(field, (v, t, r) => `(${this.anyOf(v, t, operand as Scalar[], name, r)})`, hasNull);
      }
      case '$exists':
        return this.exists(field, operand === true);
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        return this.range(field, op, operand as Scalar, name);
      default:
        throw invalidFilter(field, { [op]: operand });
    }
  }

  /**
   * A test of one scalar (`value`, `type` as SQL) applied the MongoDB way: to the field's value or, when it
   * holds an array, to any element. Missing counts as null for equality with null (`nullMatchesMissing`).
   */
  private test(field: string, scalar: Scalar1, nullMatchesMissing: boolean): string {
    if (field === 'id') return scalar('id', `'text'`);
    const path = this.path(field);
    // Indexed fields hold scalars (enforced on write) and are tested through the (rank, value) index.
    if (this.indexed.has(field)) return scalar(valueSql(path), '', rankSql(path));
    // json_type is NULL for a missing field: IFNULL keeps every test true or false, so NOT (for $ne) is exact.
    const direct = `IFNULL(${scalar(valueSql(path), `json_type(doc, ${path})`)}, 0)`;
    const missing = nullMatchesMissing ? ` OR json_type(doc, ${path}) IS NULL` : '';
    const element = scalar('j.value', 'j.type');
    return `(CASE WHEN json_type(doc, ${path}) = 'array' THEN EXISTS (SELECT 1 FROM json_each(doc, ${path}) AS j WHERE ${element}) ELSE (${direct}${missing}) END)`;
  }

  /** `rankOf` given: the field is indexed, and its rank stands for its type (null's rank covers missing). */
  private equals(value: string, type: string, operand: Scalar, name: string, rankOf?: string): string {
    if (rankOf) {
      if (operand === null) return `${rankOf} = 0`;
      return `(${rankOf} = ${rank(operand)} AND ${value} = ${this.bind(name, boundValue(operand))})`;
    }
    if (operand === null) return `${type} IS 'null'`;
    if (typeof operand === 'boolean') return `${type} IS '${operand}'`;
    if (typeof operand === 'number') return `(${type} IN ('integer', 'real') AND ${value} = ${this.bind(name, operand)})`;
    if (typeof operand === 'string') return `(${type} IS 'text' AND ${value} = ${this.bind(name, operand)})`;
    throw new IpamError('VALIDATION', `filter value ${JSON.stringify(operand)}: must be a string, number, boolean or null`);
  }

  private anyOf(value: string, type: string, operands: Scalar[], name: string, rankOf?: string): string {
    const elements = operands.map((operand, k) => ({ operand, name: `${name}_${k}` }));
    const strings = elements.filter((e) => typeof e.operand === 'string');
    const others = elements.filter((e) => typeof e.operand !== 'string');
    const terms: string[] = [];
    if (strings.length > 0) {
      const isText = rankOf ? `${rankOf} = 2` : `${type} IS 'text'`;
      terms.push(`(${isText} AND ${value} IN (${strings.map((e) => this.bind(e.name, e.operand)).join(', ')}))`);
    }
    for (const e of others) terms.push(this.equals(value, type, e.operand, e.name, rankOf));
    return terms.join(' OR ');
  }

  private exists(field: string, wanted: boolean): string {
    if (field === 'id') return wanted ? '1' : '0';
    return `json_type(doc, ${this.path(field)}) IS ${wanted ? 'NOT ' : ''}NULL`;
  }

  /** Comparison within the operand's type bracket (MongoDB: `$lt: 'x'` never matches a number). */
  private range(field: string, op: string, operand: Scalar, name: string): string {
    const sqlOp = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op]!;
    if (operand === null || typeof operand === 'object' || operand === undefined) {
      throw new IpamError('VALIDATION', `filter on ${field}: ${op} needs a string, number or boolean bound, not ${JSON.stringify(operand)}`, {
        field,
        value: operand,
      });
    }
    const r = rank(operand);
    if (field === 'id') {
      return r === 2 ? `id ${sqlOp} ${this.bind(name, operand)}` : '0';
    }
    const bound = boundValue(operand);
    if (this.indexed.has(field)) {
      const path = this.path(field);
      this.pinned.add(field);
      return `(${rankSql(path)} = ${r} AND ${valueSql(path)} ${sqlOp} ${this.bind(name, bound)})`;
    }
    const types = r === 1 ? `('integer', 'real')` : r === 2 ? `('text')` : `('true', 'false')`;
    return this.test(
      field,
      (value, type) => `(${type} IN ${types} AND ${value} ${sqlOp} ${this.bind(name, bound)})`,
      false,
    );
  }

  /** ORDER BY in MongoDB's order (type bracket, then value); ties in no particular order. */
  order(sort: Record<string, 1 | -1> | undefined): string {
    const terms: string[] = [];
    for (const [k, [field, direction]] of Object.entries(sort ?? {}).entries()) {
      const dir = direction === -1 ? 'DESC' : 'ASC';
      if (field === 'id') {
        terms.push(`id ${dir}`);
        continue;
      }
      this.pathName = `s${k}`;
      const path = this.path(field);
      // With the rank fixed by the filter, ORDER BY the value alone lets SQLite read the (rank, value) index in
      // order; with the rank term as well it sorts every match first (a temporary B-tree).
      if (!this.pinned.has(field)) terms.push(`${rankSql(path)} ${dir}`);
      terms.push(`${valueSql(path)} ${dir}`);
    }
    return terms.length > 0 ? ` ORDER BY ${terms.join(', ')}` : '';
  }
}

/** A condition as its operators: a plain value is `$eq`. */
function operatorsOf(condition: Condition): [string, unknown][] {
  return condition !== null && typeof condition === 'object' ? Object.entries(condition as Comparison) : [['$eq', condition]];
}

/** An operand as it is bound: booleans as 1 and 0, which is how `json_extract` gives them. */
function boundValue(operand: unknown): unknown {
  return typeof operand === 'boolean' ? Number(operand) : operand;
}

/**
 * What the SQL of a filter and sort depends on besides their values: field names, operators, and each operand's
 * type (and a boolean's value, which some tests inline). Two filters with one shape translate to one SQL text.
 */
export function shapeOf(filter: Filter, sort?: Record<string, 1 | -1>): string {
  let shape = '';
  for (const field of Object.keys(filter)) {
    shape += `${JSON.stringify(field)}{`;
    for (const [op, operand] of operatorsOf(filter[field])) shape += `${JSON.stringify(op)}${kindOf(operand)}`;
    shape += '}';
  }
  // The SQL tells only descending (-1) from anything else (ascending).
  if (sort) for (const field of Object.keys(sort)) shape += `|${JSON.stringify(field)}${sort[field] === -1 ? 'D' : 'A'}`;
  return shape;
}

const KINDS: Record<string, string> = { string: 's', number: 'd', undefined: 'u', bigint: 'b', symbol: 'y', function: 'F', object: 'o' };

function kindOf(value: unknown): string {
  if (value === null) return 'z';
  if (Array.isArray(value)) {
    // By index: a hole has a place of its own (parameters are named by place).
    let kinds = '';
    for (let k = 0; k < value.length; k++) kinds += k in value ? kindOf(value[k]) : '_';
    return `[${kinds}]`;
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return KINDS[typeof value];
}

/**
 * The parameters of a filter and sort for the SQL `translate` made of their shape (extra ones are ignored). It
 * refuses nothing: a path that is not storable is left out, as `translate` refuses it wherever it uses it.
 */
export function parametersOf(filter: Filter, sort: Record<string, 1 | -1> | undefined, indexed: Set<string>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const paths = (field: string, name: string) => {
    if (field !== 'id' && !indexed.has(field)) params[name] = storablePath(field);
  };
  Object.keys(filter).forEach((field, i) => {
    paths(field, `f${i}`);
    operatorsOf(filter[field]).forEach(([op, operand], j) => {
      if (op === '$in' && Array.isArray(operand)) operand.forEach((element, k) => (params[`v${i}_${j}_${k}`] = boundValue(element)));
      else params[`v${i}_${j}`] = boundValue(operand);
    });
  });
  if (sort) Object.keys(sort).forEach((field, k) => paths(field, `s${k}`));
  return params;
}

function invalidFilter(field: string, condition: unknown): IpamError {
  return new IpamError('VALIDATION', `filter on ${field}: ${JSON.stringify(condition)} is not in the store's filter subset`, {
    field,
    value: condition,
  });
}

/** WHERE condition and ORDER BY clause of a query, sharing one set of named parameters. */
export function translate(
  filter: Filter,
  sort: Record<string, 1 | -1> | undefined,
  indexed: Set<string>,
): { where: string; order: string; params: Record<string, unknown> } {
  const builder = new Builder(indexed);
  const where = builder.filter(filter);
  const order = builder.order(sort);
  return { where, order, params: builder.params };
}

/** A collection's table: the document's `id` and the rest of it as JSON. */
export function tableDdl(collection: string): string {
  return `CREATE TABLE IF NOT EXISTS "${collection}" (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)`;
}
