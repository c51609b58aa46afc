/*
 * FlowIPAM's shared editor code, served by Node-RED at /resources/@flowipam/node-red-ipam/editor.js. Every
 * node's HTML loads it with a <script src> (jQuery runs it before the node's own script), so no node depends
 * on another node set's load order; the second and later loads find FlowIPAM defined and do nothing.
 * Node HTML has no module loader, so the shared functions hang off the one namespace `window.FlowIPAM`.
 *
 * Every node registers through registerNode: the palette look they share, the store and name settings, the
 * operation select, and a dialog built from row specs (label from the node's catalog, input, notes), which
 * replaces a hand-written template per node.
 *
 * Operation nodes get one dialog row per payload field of the chosen operation, as a TypedInput. The values
 * are saved in the node's `fields` ({name: {value, type}}) and evaluated per message by the node; msg.payload
 * overrides them field by field (nodes/common.ts mergeFields).
 */
/* global RED, $ */
(function () {
  'use strict';
  if (window.FlowIPAM) return;
  const FIELD_TYPES = ['msg', 'flow', 'global', 'env', 'str', 'num', 'json'];
  const MAX_COUNT = 1024;

  function isIPv4(text) {
    const parts = String(text).split('.');
    return parts.length === 4 && parts.every(function (p) { return /^\d{1,3}$/.test(p) && Number(p) <= 255; });
  }

  function isIPv6(text) {
    if (!/^[0-9a-fA-F:.]+$/.test(text) || text.indexOf(':') < 0) return false;
    try {
      // The URL parser knows every IPv6 spelling (::, embedded IPv4); it refuses the rest.
      new URL('http://[' + text + ']/');
      return true;
    } catch (e) {
      return false;
    }
  }

  function isAddress(text) { return isIPv4(text) || isIPv6(text); }

  function isCidr(text) {
    const slash = String(text).lastIndexOf('/');
    if (slash < 0) return false;
    const address = text.slice(0, slash);
    const prefix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix)) return false;
    if (isIPv4(address)) return Number(prefix) <= 32;
    return isIPv6(address) && Number(prefix) <= 128;
  }

  function isWholeNumber(text, min, max) {
    const n = Number(text);
    return String(text).trim() !== '' && Number.isInteger(n) && n >= min && n <= max;
  }

  /** Checks of a field's static value (str, num, json); values from msg, flow, global or env are checked on use. */
  const CHECKS = {
    cidr: function (v) { return isCidr(v); },
    /** A range or block named by CIDR, or by its id (text without a "/"). */
    cidrOrId: function (v) { return String(v).indexOf('/') >= 0 ? isCidr(v) : /^\S+$/.test(v); },
    address: function (v) { return isAddress(v); },
    count: function (v) { return isWholeNumber(v, 1, MAX_COUNT); },
    limit: function (v) { return isWholeNumber(v, 1, 10000); },
    holdSeconds: function (v) { return isWholeNumber(v, 1, 31622400); },
    prefixLength: function (v) { return isWholeNumber(v, 0, 128); },
    mac: function (v) { return /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$|^[0-9a-fA-F]{12}$/.test(v); },
    text: function () { return true; },
  };

  /** Whether one saved field {value, type} passes its check; an empty value is "not set", always valid. */
  function fieldValid(spec, setting) {
    if (!setting || setting.value === undefined || setting.value === '') return true;
    if (setting.type === 'json') {
      try { JSON.parse(setting.value); } catch (e) { return false; }
      return true;
    }
    if (setting.type !== 'str' && setting.type !== 'num') return true;
    return (CHECKS[spec.check || 'text'] || CHECKS.text)(String(setting.value).trim());
  }

  function specsOf(fieldsByOperation, operation) {
    return Object.prototype.hasOwnProperty.call(fieldsByOperation, operation) ? fieldsByOperation[operation] : [];
  }

  /** Every field spec once, in first-seen order, for the dialog's rows. */
  function allSpecs(fieldsByOperation) {
    const seen = new Map();
    Object.keys(fieldsByOperation).forEach(function (op) {
      fieldsByOperation[op].forEach(function (spec) { if (!seen.has(spec.name)) seen.set(spec.name, spec); });
    });
    return Array.from(seen.values());
  }

  function defaultType(spec) {
    return spec.type || (spec.check === 'count' || spec.check === 'limit' || spec.check === 'prefixLength' ? 'num' : 'str');
  }

  function inputId(name) { return 'node-input-ipam-field-' + name; }

  /** Builds the field rows into `container`, shows those of the current operation, and marks bad values. */
  function prepareFields(node, type, fieldsByOperation, container) {
    const saved = node.fields || {};
    const specs = allSpecs(fieldsByOperation);
    specs.forEach(function (spec) {
      const row = $('<div class="form-row ipam-field-row">').attr('data-field', spec.name).appendTo(container);
      $('<label>').attr('for', inputId(spec.name))
        .append($('<i class="fa fa-angle-right"></i>'), ' ', $('<span>').text(node._(type + '.fields.' + spec.name)))
        .appendTo(row);
      const input = $('<input type="text" style="width: 70%">').attr('id', inputId(spec.name)).appendTo(row);
      const setting = Object.prototype.hasOwnProperty.call(saved, spec.name) ? saved[spec.name] : null;
      input.val(setting ? setting.value : '');
      input.attr('placeholder', node._(type + '.placeholders.' + spec.name, { defaultValue: '' }));
      input.typedInput({ types: spec.types || FIELD_TYPES, default: setting ? setting.type : defaultType(spec) });
      if (setting) input.typedInput('type', setting.type);
      const mark = function () {
        const ok = fieldValid(spec, { value: input.typedInput('value'), type: input.typedInput('type') });
        row.find('.red-ui-typedInput-container').toggleClass('input-error', !ok);
        row.toggleClass('ipam-field-invalid', !ok);
      };
      input.on('change', mark);
      row.find('.red-ui-typedInput-container').on('keyup', mark);
      mark();
    });
    const select = $('#node-input-operation');
    const show = function () {
      const names = specsOf(fieldsByOperation, select.val()).map(function (spec) { return spec.name; });
      container.find('.ipam-field-row').each(function () {
        $(this).toggle(names.indexOf($(this).attr('data-field')) >= 0);
      });
    };
    select.on('change', show);
    show();
  }

  /** The visible fields that have a value, as the node saves them. */
  function collectFields(fieldsByOperation, operation) {
    const fields = {};
    specsOf(fieldsByOperation, operation).forEach(function (spec) {
      const input = $('#' + inputId(spec.name));
      const value = input.typedInput('value');
      if (value !== undefined && value !== '') fields[spec.name] = { value: value, type: input.typedInput('type') };
    });
    return fields;
  }

  /** Where Node-RED keeps the node templates; the editor's own generated templates go there too. */
  function templateContainer() {
    const configs = $('#red-ui-editor-node-configs');
    return configs.length ? configs : $('body');
  }

  /** One input (or select) of a dialog row; `spec.input` is text (default), password, number, checkbox or select. */
  function inputHtml(type, prefix, spec) {
    const kind = spec.input || 'text';
    const id = ' id="' + prefix + spec.name + '"';
    const attrs = spec.attrs ? ' ' + spec.attrs : '';
    if (kind === 'select') return '<select' + id + ' style="width: 70%"' + attrs + '></select>';
    const placeholder = spec.placeholder ? ' data-i18n="[placeholder]' + type + '.' + (spec.placeholder === true ? 'placeholder.' + spec.name : spec.placeholder) + '"' : '';
    const style = kind === 'checkbox' ? ' style="width: auto; margin: 0 8px 0 0"' : '';
    return '<input type="' + kind + '"' + id + style + attrs + placeholder + '>' + (spec.unit ? ' ' + spec.unit : '');
  }

  /**
   * One dialog row: an icon label from the node's message catalog (<type>.label.<name>, or spec.label), the input,
   * then `after`: inline notes ({text: key}) and further inputs. `group` is a class the dialog shows or hides.
   */
  function rowHtml(type, prefix, spec) {
    const label = '<label for="' + prefix + spec.name + '"><i class="fa fa-' + spec.icon + '"></i> <span data-i18n="' +
      type + '.' + (spec.label || 'label.' + spec.name) + '"></span></label>';
    const after = (spec.after || []).map(function (item) {
      return item.text ? '<span data-i18n="' + type + '.' + item.text + '"></span>' : inputHtml(type, prefix, item);
    });
    return '<div class="form-row' + (spec.group ? ' ' + spec.group : '') + '">' + [label, inputHtml(type, prefix, spec)].concat(after).join(' ') + '</div>';
  }

  /**
   * Defines a node's dialog template from its rows (a string is a row of literal HTML), as Node-RED's own
   * generated dialogs do: a <script data-template-name> that the editor reads when the dialog opens.
   */
  function defineTemplate(type, rows, prefix) {
    if ($('script[data-template-name="' + type + '"]').length) return;
    const html = rows.map(function (spec) { return typeof spec === 'string' ? spec : rowHtml(type, prefix || 'node-input-', spec); }).join('\n');
    $('<script type="text/html">').attr('data-template-name', type).text(html).appendTo(templateContainer());
  }

  /** Fills a select with values labelled from the message catalog (<type>.<group>.<value>) and picks `current`. */
  function fillSelect(node, select, values, labelKey, current) {
    values.forEach(function (value) {
      select.append($('<option>').val(value).text(labelKey ? node._(labelKey + '.' + value) : value));
    });
    select.val(current);
  }

  /** The schedule of a node that repeats: hours between runs, 0 = only on input. */
  function intervalHours(value) {
    return { value: value, validate: function (v) { return v === '' || (Number(v) >= 0 && Number(v) <= 576); } };
  }

  const SCHEDULE_ROW = {
    name: 'intervalHours', icon: 'clock-o', input: 'number', attrs: 'min="0" max="576" step="any" style="width: 80px"',
    after: [{ text: 'label.hoursNote' }],
  };

  /**
   * Registers an IPAM node: the palette look every FlowIPAM node shares, the store and name settings, and with
   * `form.operations` the operation select; the dialog is the store, the operation, `form.rows`, then the name.
   */
  function registerNode(type, definition, form) {
    const operations = form.operations;
    const defaults = { name: { value: '' }, server: { value: '', type: 'ipam-config', required: true } };
    if (operations) {
      defaults.operation = {
        value: form.defaultOperation || operations[0], required: true,
        validate: function (v) { return operations.indexOf(v) >= 0; },
      };
    }
    const prepare = definition.oneditprepare;
    RED.nodes.registerType(type, Object.assign({
      category: 'IPAM',
      color: '#a6bbcf',
      inputs: 1,
      outputs: 1,
      icon: type + '.svg',
      paletteLabel: function () { return this._(type + '.paletteLabel'); },
      labelStyle: function () { return this.name ? 'node_label_italic' : ''; },
    }, definition, {
      defaults: Object.assign(defaults, definition.defaults),
      oneditprepare: function () {
        if (operations) fillSelect(this, $('#node-input-operation'), operations, type + '.operations', this.operation);
        if (prepare) prepare.call(this);
      },
    }));
    const first = [{ name: 'server', icon: 'database', label: form.serverLabel }];
    if (operations) first.push({ name: 'operation', icon: 'wrench', input: 'select' });
    const name = { name: 'name', icon: 'tag', placeholder: form.namePlaceholder || true };
    defineTemplate(type, first.concat(form.rows, [name]));
  }

  window.FlowIPAM = {
    checks: CHECKS,
    fieldValid: fieldValid,
    registerNode: registerNode,
    fillSelect: fillSelect,
    intervalHours: intervalHours,
    scheduleRow: SCHEDULE_ROW,

    /**
     * Registers an operation node: store, operation, the operation's fields as TypedInputs, name.
     * options: {operations, defaultOperation, labelPrefix, fields: {operation: [{name, check?, type?, types?}]}}
     */
    registerOperationNode: function (type, options) {
      const fieldsByOperation = options.fields || {};
      registerNode(type, {
        defaults: {
          fields: {
            value: {},
            validate: function (v) {
              const operation = this.operation;
              return specsOf(fieldsByOperation, operation).every(function (spec) {
                return !v || !Object.prototype.hasOwnProperty.call(v, spec.name) || fieldValid(spec, v[spec.name]);
              });
            },
          },
        },
        label: function () { return this.name || options.labelPrefix + ': ' + this.operation; },
        oneditprepare: function () {
          prepareFields(this, type, fieldsByOperation, $('#node-input-ipam-fields'));
        },
        oneditsave: function () {
          this.fields = collectFields(fieldsByOperation, $('#node-input-operation').val());
        },
      }, {
        operations: options.operations,
        defaultOperation: options.defaultOperation,
        serverLabel: 'label.store',
        namePlaceholder: 'label.name',
        rows: ['<div id="node-input-ipam-fields"></div>'],
      });
    },
  };
})();
