/*
 * FlowIPAM's shared editor code, served by Node-RED at /resources/@flowipam/node-red-ipam/editor.js and loaded
 * by ipam-config.html (the module's first node set) before the other nodes' dialogs register.
 *
 * Operation nodes get one dialog row per payload field of the chosen operation, as a TypedInput. The values
 * are saved in the node's `fields` ({name: {value, type}}) and evaluated per message by the node; msg.payload
 * overrides them field by field (nodes/common.ts mergeFields).
 */
/* global RED, $ */
(function () {
  'use strict';
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

  window.FlowIPAM = {
    checks: CHECKS,
    fieldValid: fieldValid,

    /**
     * Registers an operation node: store, operation, the operation's fields as TypedInputs, name.
     * options: {operations, defaultOperation, labelPrefix, fields: {operation: [{name, check?, type?, types?}]}}
     */
    registerOperationNode: function (type, options) {
      const operations = options.operations;
      const fieldsByOperation = options.fields || {};
      RED.nodes.registerType(type, {
        category: 'IPAM',
        color: '#a6bbcf',
        defaults: {
          name: { value: '' },
          server: { value: '', type: 'ipam-config', required: true },
          operation: { value: options.defaultOperation, required: true, validate: function (v) { return operations.indexOf(v) >= 0; } },
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
        inputs: 1,
        outputs: 1,
        icon: type + '.svg',
        paletteLabel: function () { return this._(type + '.paletteLabel'); },
        label: function () { return this.name || options.labelPrefix + ': ' + this.operation; },
        labelStyle: function () { return this.name ? 'node_label_italic' : ''; },
        oneditprepare: function () {
          window.FlowIPAM.fillOperations(this, type, operations);
          prepareFields(this, type, fieldsByOperation, $('#node-input-ipam-fields'));
        },
        oneditsave: function () {
          this.fields = collectFields(fieldsByOperation, $('#node-input-operation').val());
        },
      });
    },

    /** Fills #node-input-operation with the operations' labels from the node's message catalog. */
    fillOperations: function (node, type, operations) {
      const select = $('#node-input-operation');
      operations.forEach(function (op) {
        select.append($('<option>').val(op).text(node._(type + '.operations.' + op)));
      });
      select.val(node.operation);
    },
  };
})();
