/**
 * Key templates such as `"images/{productId}.png"`: compiled once, rendered per record from the
 * attributes' exact stored text. Pure.
 */

/** A compiled template: literal text and attribute names, alternating, starting with literal text. */
export interface KeyTemplate {
  /** `literals.length === attributes.length + 1`. */
  literals: string[];
  attributes: string[];
}

/**
 * Compiles a template. `{name}` is a placeholder; `{{` and `}}` are literal braces.
 * Returns a problem description instead when the template is malformed.
 */
export function compileTemplate(template: string): KeyTemplate | string {
  const literals: string[] = [];
  const attributes: string[] = [];
  let literal = "";
  for (let i = 0; i < template.length; i++) {
    const char = template[i];
    const next = template[i + 1];
    if ((char === "{" || char === "}") && next === char) {
      literal += char;
      i++;
    } else if (char === "}") {
      return `has an unmatched "}" at position ${i} (write "}}" for a literal brace)`;
    } else if (char === "{") {
      const end = template.indexOf("}", i + 1);
      const name = end === -1 ? "" : template.slice(i + 1, end);
      if (end === -1) return `has an unclosed "{" at position ${i} (write "{{" for a literal brace)`;
      if (name === "" || name.includes("{")) return `has an empty or malformed placeholder at position ${i}`;
      literals.push(literal);
      attributes.push(name);
      literal = "";
      i = end;
    } else {
      literal += char;
    }
  }
  literals.push(literal);
  if (attributes.length === 0) {
    return "has no {attribute} placeholder, so every record would delete the same object";
  }
  return { literals, attributes };
}

/** Renders a compiled template with one value per attribute, in order. */
export function renderTemplate(template: KeyTemplate, values: readonly string[]): string {
  let key = template.literals[0] as string;
  for (let i = 0; i < values.length; i++) key += (values[i] as string) + (template.literals[i + 1] as string);
  return key;
}
