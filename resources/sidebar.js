/*
 * The IPAM sidebar tab: the address space of a deployed ipam-config as a tree (address spaces > blocks > ranges)
 * with utilization bars, lazy pages of children, search, and a detail view of a range. It reads the admin
 * endpoints under /flowipam/ (nodes/admin.ts), which need the flowipam.read permission.
 */
/* global RED, $ */
(function () {
  'use strict';
  if (!window.RED || !RED.sidebar || window.FlowIPAMSidebar) return;
  const PAGE = 50;
  const t = function (key, values) { return RED._('@flowipam/node-red-ipam/ipam-config:ipam-config.sidebar.' + key, values); };

  const css = [
    '.flowipam-help code { white-space: normal; overflow-wrap: anywhere; }',
    '.flowipam-sidebar { position: absolute; inset: 0; display: flex; flex-direction: column; }',
    '.flowipam-toolbar { padding: 6px 8px; display: flex; gap: 4px; align-items: center; border-bottom: 1px solid var(--red-ui-secondary-border-color, #ddd); }',
    '.flowipam-toolbar select { flex: 1; min-width: 0; }',
    '.flowipam-search { padding: 6px 8px; }',
    '.flowipam-search input { width: 100%; box-sizing: border-box; }',
    '.flowipam-tree { flex: 1; overflow: auto; padding: 4px 0; }',
    '.flowipam-tree ul { list-style: none; margin: 0; padding-left: 14px; }',
    '.flowipam-tree > ul { padding-left: 4px; }',
    '.flowipam-row { padding: 3px 6px; cursor: pointer; border-radius: 2px; }',
    '.flowipam-row:hover { background: var(--red-ui-secondary-background-hover, #eee); }',
    '.flowipam-row.selected { background: var(--red-ui-secondary-background-selected, #dde); }',
    '.flowipam-caret { display: inline-block; width: 12px; color: #888; }',
    '.flowipam-label { font-family: monospace; }',
    '.flowipam-desc { color: #888; margin-left: 6px; font-size: 0.9em; }',
    '.flowipam-bar { height: 6px; background: #e3e3e3; border-radius: 3px; margin: 2px 0 0 12px; overflow: hidden; }',
    '.flowipam-bar > div { height: 100%; background: #5a8; }',
    '.flowipam-bar.warn > div { background: #d94; }',
    '.flowipam-bar.full > div { background: #c44; }',
    '.flowipam-numbers { margin-left: 12px; font-size: 0.85em; color: #666; }',
    '.flowipam-more, .flowipam-note { margin: 2px 0 2px 12px; font-size: 0.9em; color: #888; }',
    '.flowipam-details { border-top: 1px solid var(--red-ui-secondary-border-color, #ddd); padding: 6px 8px; max-height: 45%; overflow: auto; }',
    '.flowipam-details table { width: 100%; font-size: 0.9em; }',
    '.flowipam-details td:first-child { color: #888; padding-right: 8px; white-space: nowrap; }',
    '.flowipam-details td:last-child { font-family: monospace; overflow-wrap: anywhere; }',
  ].join('\n');
  $('<style id="flowipam-style">').text(css).appendTo('head');

  /** Exact counts: numbers, or decimal strings beyond 2^53 (IPv6). */
  function count(value) {
    try { return BigInt(String(value)).toLocaleString('en-US'); } catch (e) { return String(value); }
  }

  function bar(utilization) {
    const percent = Math.min(100, Math.max(0, Number(utilization.utilizedPercent) || 0));
    const el = $('<div class="flowipam-bar">').append($('<div>').css('width', percent + '%'));
    el.toggleClass('warn', percent >= 80 && percent < 95).toggleClass('full', percent >= 95);
    return el.attr('title', percent + '%').attr('data-percent', percent);
  }

  function numbers(utilization) {
    return $('<div class="flowipam-numbers">').text(
      count(utilization.assigned) + ' / ' + count(utilization.size) + ' (' + utilization.utilizedPercent + '%)');
  }

  const content = $('<div class="flowipam-sidebar">');
  const toolbar = $('<div class="flowipam-toolbar">').appendTo(content);
  const stores = $('<select class="flowipam-store">').attr('title', t('store')).appendTo(toolbar);
  $('<button type="button" class="red-ui-button red-ui-button-small flowipam-refresh"><i class="fa fa-refresh"></i></button>')
    .attr('title', t('refresh')).on('click', function () { refresh(); }).appendTo(toolbar);
  const searchBox = $('<input type="text" class="flowipam-search-input">').attr('placeholder', t('search'));
  $('<div class="flowipam-search">').append(searchBox).appendTo(content);
  const tree = $('<div class="flowipam-tree">').appendTo(content);
  const details = $('<div class="flowipam-details">').hide().appendTo(content);

  function get(path, query) {
    return $.ajax({ url: 'flowipam/' + path, data: query, dataType: 'json', cache: false });
  }

  function failure(target) {
    return function (xhr) {
      const body = xhr.responseJSON || {};
      const text = xhr.status === 403 ? t('forbidden') : t('failed', { message: body.message || xhr.statusText || xhr.status });
      target.empty().append($('<div class="flowipam-note flowipam-error">').text(text));
    };
  }

  function row(item) {
    const li = $('<li class="flowipam-item">').attr({ 'data-kind': item.kind, 'data-id': item.id, 'data-label': item.label });
    const line = $('<div class="flowipam-row">').appendTo(li);
    $('<span class="flowipam-caret">').html(item.hasChildren ? '<i class="fa fa-caret-right"></i>' : '').appendTo(line);
    $('<span class="flowipam-label">').text(item.label).appendTo(line);
    if (item.description) $('<span class="flowipam-desc">').text(item.description).appendTo(line);
    line.append(bar(item.utilization), numbers(item.utilization));
    const children = $('<ul>').hide().appendTo(li);
    line.on('click', function () {
      if (item.kind === 'range') return showRange(item, line);
      if (!item.hasChildren) return;
      const open = children.is(':visible');
      line.find('.flowipam-caret i').toggleClass('fa-caret-right', open).toggleClass('fa-caret-down', !open);
      if (open) return children.hide();
      children.show();
      if (!li.data('loaded')) {
        li.data('loaded', true);
        loadPage(children, parentQuery(item), null);
      }
    });
    return li;
  }

  function parentQuery(item) {
    if (item.kind === 'space') return { parent: 'space', addressSpace: item.addressSpace, family: item.family };
    return { parent: 'block', id: item.id };
  }

  /** Appends one page of children to `list`, with a "show more" button while there are more. */
  function loadPage(list, query, cursor, current) {
    const loading = $('<li class="flowipam-note">').text(t('loading')).appendTo(list);
    const request = Object.assign({ config: stores.val(), limit: PAGE }, query, cursor ? { cursor: cursor } : {});
    get('tree', request).then(function (page) {
      if (current && !current()) return;
      loading.remove();
      if (page.items.length === 0 && !cursor) $('<li class="flowipam-note">').text(query.search ? t('noMatch') : t('empty')).appendTo(list);
      page.items.forEach(function (item) { list.append(row(item)); });
      if (page.truncated) $('<li class="flowipam-note">').text(t('truncated')).appendTo(list);
      if (page.nextCursor) {
        const more = $('<li class="flowipam-more"><button type="button" class="red-ui-button red-ui-button-small"></button></li>');
        more.find('button').text(t('more')).on('click', function () {
          more.remove();
          loadPage(list, query, page.nextCursor, current);
        });
        list.append(more);
      }
    }, function (xhr) { if (!current || current()) failure(list)(xhr); });
  }

  function showRange(item, line) {
    tree.find('.flowipam-row.selected').removeClass('selected');
    line.addClass('selected');
    details.show().empty().text(t('loading'));
    get('range', { config: stores.val(), id: item.id }).then(function (answer) {
      const range = answer.range;
      const used = answer.utilization;
      const table = $('<table class="flowipam-range-details">');
      const add = function (label, value) {
        if (value === undefined || value === null || value === '') return;
        $('<tr>').append($('<td>').text(label), $('<td>').text(value)).appendTo(table);
      };
      add(t('range'), range.network);
      add(t('addressSpace'), range.addressSpace);
      add(t('start'), range.startAddress);
      add(t('end'), range.endAddress);
      add(t('size'), count(used.size));
      add(t('assigned'), count(used.assigned));
      add(t('free'), count(used.free));
      add(t('utilized'), used.utilizedPercent + '%');
      add(t('managedBy'), range.managedByService);
      add(t('instance'), range.serviceInstance);
      add(t('description'), range.description);
      const copy = $('<button type="button" class="red-ui-button red-ui-button-small flowipam-copy"><i class="fa fa-clipboard"></i> </button>');
      copy.append($('<span>').text(t('copy'))).on('click', function () {
        if (RED.clipboard && RED.clipboard.copyText) RED.clipboard.copyText(range.network, copy, t('copied'));
        else if (navigator.clipboard) navigator.clipboard.writeText(range.network);
      });
      details.empty().append(table, copy);
    }, failure(details));
  }

  let generation = 0;
  /**
   * Starts a new load of the whole tree and returns a check that it is still the latest. Answers to an older
   * load are dropped: showing the tab and clicking refresh overlap, and the older answer must neither empty
   * nor redraw the tree the newer one drew.
   */
  function startLoad() {
    const mine = ++generation;
    tree.empty().append($('<div class="flowipam-note">').text(t('loading')));
    details.hide();
    return function current() { return mine === generation; };
  }

  function loadRoot(current) {
    current = current || startLoad();
    tree.empty();
    if (!stores.val()) {
      tree.append($('<div class="flowipam-note">').text(t('noStore')));
      return;
    }
    const list = $('<ul>').appendTo(tree);
    const text = searchBox.val().trim();
    loadPage(list, text ? { search: text } : { parent: 'root' }, null, current);
  }

  let refreshes = 0;
  /**
   * Reloads the list of deployed stores (keeping the chosen one when it is still there), then the tree. Only the
   * latest refresh's list is applied; it is applied even when a search or a change of store has started another
   * load of the tree meanwhile, and the tree is then loaded again, as that load may have found no store.
   */
  function refresh() {
    const asked = ++refreshes;
    const current = startLoad();
    return get('stores').then(function (list) {
      if (asked !== refreshes) return;
      const chosen = stores.val();
      stores.empty();
      list.forEach(function (store) {
        stores.append($('<option>').val(store.id).text(store.name + (store.kind ? ' (' + store.kind + ')' : '')));
      });
      if (chosen && list.some(function (s) { return s.id === chosen; })) stores.val(chosen);
      loadRoot(current() ? current : undefined);
    }, function (xhr) {
      // Shown unless a newer refresh is on its way, or a search meanwhile found a store to search in.
      if (asked === refreshes && (current() || !stores.val())) failure(tree)(xhr);
    });
  }

  let searchTimer;
  searchBox.on('keyup', function (event) {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { loadRoot(); }, event.key === 'Enter' ? 0 : 300);
  });
  stores.on('change', function () { loadRoot(); });

  RED.sidebar.addTab({
    id: 'flowipam',
    label: t('label'),
    name: t('title'),
    iconClass: 'fa fa-sitemap',
    content: content,
    enableOnEdit: true,
    onchange: function () { refresh(); },
  });
  RED.events.on('deploy', function () { refresh(); });
  window.FlowIPAMSidebar = { refresh: refresh };
})();
