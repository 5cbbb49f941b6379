// mediaprep's page: sign in, send files and text statuses, follow jobs.
// Everything the server returns is put in the page with textContent (or as
// a media element's src), never as HTML. The API key lives in
// sessionStorage and travels only in the Authorization header.
'use strict';

(function () {
  const KEY = 'mediaprep.key';      // sessionStorage: the API key
  const JOBS = 'mediaprep.jobs';    // localStorage: ids of jobs sent from here
  const LANG = 'mediaprep.lang';    // localStorage: chosen language
  const MAX_JOBS = 50;              // ids kept in the list
  const UPLOADS_AT_ONCE = 2;

  const T = {
    en: {
      skip: 'Skip to content', title: 'WhatsApp statuses', language: 'Language', signOut: 'Sign out',
      loading: 'Loading…', signInTitle: 'Sign in', signInHelp: 'This server needs an API key. Ask whoever runs it for one.',
      apiKey: 'API key', signIn: 'Sign in', keyWrong: 'This API key is not valid. Check it and try again.',
      keyNeeded: 'Enter the API key.', keyExpired: 'Your API key is no longer accepted. Sign in again.',
      newTitle: 'New statuses', dropHere: 'Drop pictures, videos or audio here', or: 'or', pick: 'Choose files',
      maxSize: 'Up to {size} per file. Videos and audio are cut to one minute.', filesLabel: 'Files to send',
      sendAll: 'Send all', clear: 'Clear', caption: 'Caption', crop: 'Crop to 9:16', videoFit: 'Video frame',
      background: 'Background', participants: 'Participants', remove: 'Remove',
      participantsHint: 'Phone numbers, separated by commas. Empty: all contacts.', participantsPlaceholder: 'All contacts, or 79001234567, …',
      kind_image: 'picture', kind_video: 'video', kind_audio: 'audio', kind_other: 'file',
      crop_center: 'Middle', crop_smart: 'Most interesting part', crop_pad: 'Whole picture on a blurred copy',
      fit_keep: 'Keep as it is', fit_crop: 'Cut the middle 9:16 out', fit_pad: 'Whole frame, black bars',
      count: '{n} / {max}', tooLong: 'Too long: at most {max} characters.',
      uploading: 'Uploading… {pct}%', uploaded: 'Sent; job {id}.', waitingTurn: 'Waiting to upload…',
      textTitle: 'Text status', text: 'Text', font: 'Font', sendText: 'Send text status',
      previewNote: 'Preview; the phone uses its own fonts.', previewEmpty: 'Your text',
      whiteRefused: 'White cannot be used: the text is drawn in white and would be unreadable. Pick another colour.',
      textEmpty: 'Write the text first.', textSent: 'Text status sent.',
      jobsTitle: 'Jobs', jobsLocal: 'Statuses sent from this browser.', jobsEmpty: 'Nothing sent yet.',
      liveOn: 'Live: states update by themselves.', liveOff: 'Reconnecting…', livePoll: 'Updating every few seconds.',
      forget: 'Remove from list', textStatus: 'Text status',
      state_queued: 'Waiting', state_preparing: 'Preparing', state_storing: 'Storing', state_posting: 'Posting',
      state_posted: 'Posted', state_failed: 'Failed', state_unknown: 'Unknown',
      created: 'Sent {time}', postedAt: 'Posted {time}', dryRun: 'Dry run: nothing was sent to WhatsApp.',
      outcomeUnknown: 'No answer came from WhatsApp: it may have been posted. It is not sent again.',
      idMessage: 'Green API message id {id}', linkExpires: 'Link works until {time}',
      notFound: 'This job is no longer on the server.', openFile: 'Open the prepared file',
      announce: '{name}: {state}',
      err_unsupported_type: 'This file is not a picture, video or audio this service can prepare.',
      err_too_large: 'The file is too large.', err_unauthorized: 'The API key is not valid.',
      err_queue_full: 'Too many jobs are waiting. Try again in a minute.', err_busy: 'The server is busy. Try again shortly.',
      err_unavailable: 'The server cannot store or queue files right now. Try again later.',
      err_invalid_request: 'Something in the form is not right.', err_network: 'The upload was cut off. Check the connection and try again.',
      err_corrupt_media: 'The file is damaged or could not be read.', err_storage_failed: 'The prepared file could not be stored.',
      err_link_rejected: 'The prepared file’s link could not be fetched.', err_rate_limited: 'WhatsApp asked us to slow down; it gave up after retries.',
      err_forbidden: 'This WhatsApp account may not post statuses.', err_outcome_unknown: 'No answer came; it may have been posted.',
      err_bad_metadata: 'The options sent with the file are not valid.', err_source_missing: 'The uploaded file was gone before it could be prepared.',
      err_max_deliveries: 'It was tried too many times.', err_handler_error: 'It failed in an unexpected way.',
      err_other: 'It failed.', field: 'field: {field}', code: 'code {code}',
      account: 'Account', publishAt: 'Publish at', publishHint: 'Empty: at once.', state_scheduled: 'Scheduled', state_canceled: 'Canceled', state_deleted: 'Deleted',
      scheduledFor: 'To be posted {time}', onAccount: 'account {account}', cancel: 'Cancel', jobsServer: 'Recent statuses on this server.',
      cancelFailed: 'Could not cancel: {why}', deleteStatus: 'Delete status', deleteSure: 'Delete it from WhatsApp?',
      deleteYes: 'Yes, delete', deleteNo: 'Keep it', deleteFailed: 'Could not delete: {why}',
      canceledAt: 'Canceled {time}', deletedAt: 'Deleted from WhatsApp {time}'
    },
    ru: {
      skip: 'К содержимому', title: 'Статусы WhatsApp', language: 'Язык', signOut: 'Выйти',
      loading: 'Загрузка…', signInTitle: 'Вход', signInHelp: 'Этому серверу нужен API-ключ. Попросите его у того, кто запустил сервер.',
      apiKey: 'API-ключ', signIn: 'Войти', keyWrong: 'Этот API-ключ не подходит. Проверьте его и попробуйте снова.',
      keyNeeded: 'Введите API-ключ.', keyExpired: 'Ваш API-ключ больше не принимается. Войдите снова.',
      newTitle: 'Новые статусы', dropHere: 'Перетащите сюда картинки, видео или аудио', or: 'или', pick: 'Выбрать файлы',
      maxSize: 'До {size} на файл. Видео и аудио обрезаются до одной минуты.', filesLabel: 'Файлы для отправки',
      sendAll: 'Отправить все', clear: 'Очистить', caption: 'Подпись', crop: 'Кадрирование 9:16', videoFit: 'Кадр видео',
      background: 'Фон', participants: 'Получатели', remove: 'Убрать',
      participantsHint: 'Номера телефонов через запятую. Пусто: все контакты.', participantsPlaceholder: 'Все контакты или 79001234567, …',
      kind_image: 'картинка', kind_video: 'видео', kind_audio: 'аудио', kind_other: 'файл',
      crop_center: 'Середина', crop_smart: 'Самая интересная часть', crop_pad: 'Целиком на размытом фоне',
      fit_keep: 'Как есть', fit_crop: 'Вырезать середину 9:16', fit_pad: 'Целиком, с чёрными полосами',
      count: '{n} / {max}', tooLong: 'Слишком длинно: не больше {max} символов.',
      uploading: 'Загрузка… {pct}%', uploaded: 'Отправлено; задание {id}.', waitingTurn: 'Ждёт загрузки…',
      textTitle: 'Текстовый статус', text: 'Текст', font: 'Шрифт', sendText: 'Отправить текстовый статус',
      previewNote: 'Предпросмотр; на телефоне свои шрифты.', previewEmpty: 'Ваш текст',
      whiteRefused: 'Белый нельзя: текст рисуется белым и не будет виден. Выберите другой цвет.',
      textEmpty: 'Сначала напишите текст.', textSent: 'Текстовый статус отправлен.',
      jobsTitle: 'Задания', jobsLocal: 'Статусы, отправленные из этого браузера.', jobsEmpty: 'Пока ничего не отправлено.',
      liveOn: 'На связи: состояния обновляются сами.', liveOff: 'Переподключение…', livePoll: 'Обновляется каждые несколько секунд.',
      forget: 'Убрать из списка', textStatus: 'Текстовый статус',
      state_queued: 'В очереди', state_preparing: 'Подготовка', state_storing: 'Сохранение', state_posting: 'Публикация',
      state_posted: 'Опубликован', state_failed: 'Ошибка', state_unknown: 'Неизвестно',
      created: 'Отправлен {time}', postedAt: 'Опубликован {time}', dryRun: 'Пробный запуск: в WhatsApp ничего не отправлено.',
      outcomeUnknown: 'Ответа от WhatsApp не было: статус мог быть опубликован. Повторно не отправляется.',
      idMessage: 'Id сообщения Green API {id}', linkExpires: 'Ссылка работает до {time}',
      notFound: 'Этого задания больше нет на сервере.', openFile: 'Открыть подготовленный файл',
      announce: '{name}: {state}',
      err_unsupported_type: 'Этот файл не картинка, не видео и не аудио, которые сервис умеет готовить.',
      err_too_large: 'Файл слишком большой.', err_unauthorized: 'API-ключ не подходит.',
      err_queue_full: 'Слишком много заданий в очереди. Попробуйте через минуту.', err_busy: 'Сервер занят. Попробуйте чуть позже.',
      err_unavailable: 'Сервер сейчас не может сохранить файл или поставить его в очередь. Попробуйте позже.',
      err_invalid_request: 'В форме что-то не так.', err_network: 'Загрузка прервалась. Проверьте связь и попробуйте снова.',
      err_corrupt_media: 'Файл повреждён или не читается.', err_storage_failed: 'Подготовленный файл не удалось сохранить.',
      err_link_rejected: 'Ссылку на подготовленный файл не удалось открыть.', err_rate_limited: 'WhatsApp просил не спешить; попытки кончились.',
      err_forbidden: 'Этому аккаунту WhatsApp нельзя публиковать статусы.', err_outcome_unknown: 'Ответа не было; статус мог быть опубликован.',
      err_bad_metadata: 'Параметры, отправленные с файлом, неверны.', err_source_missing: 'Загруженный файл пропал до подготовки.',
      err_max_deliveries: 'Слишком много попыток.', err_handler_error: 'Неожиданная ошибка.',
      err_other: 'Не получилось.', field: 'поле: {field}', code: 'код {code}',
      account: 'Аккаунт', publishAt: 'Опубликовать', publishHint: 'Пусто: сразу.', state_scheduled: 'Запланирован', state_canceled: 'Отменён', state_deleted: 'Удалён',
      scheduledFor: 'Будет опубликован {time}', onAccount: 'аккаунт {account}', cancel: 'Отменить', jobsServer: 'Последние статусы на этом сервере.',
      cancelFailed: 'Не удалось отменить: {why}', deleteStatus: 'Удалить статус', deleteSure: 'Удалить его из WhatsApp?',
      deleteYes: 'Да, удалить', deleteNo: 'Оставить', deleteFailed: 'Не удалось удалить: {why}',
      canceledAt: 'Отменён {time}', deletedAt: 'Удалён из WhatsApp {time}'
    }
  };

  const $ = (sel, root) => (root || document).querySelector(sel);
  const state = {
    lang: 'en',
    key: sessionStorage.getItem(KEY) || '',
    info: null,
    files: [],          // cards waiting to be sent
    jobs: new Map(),    // id → {job, el}
    stream: null,       // AbortController of the event stream
    lastEventId: '',
    retry: 1000,
    pollTimer: 0
  };

  // ---- words ----
  function t(name, vars) {
    let s = (T[state.lang] && T[state.lang][name]) || T.en[name] || name;
    if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
    return s;
  }
  function translate(root) {
    for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  function setLang(lang) {
    state.lang = T[lang] ? lang : 'en';
    document.documentElement.lang = state.lang;
    document.title = 'mediaprep: ' + t('title');
    $('#lang').value = state.lang;
    translate(document);
    $('#files').setAttribute('aria-label', t('filesLabel'));
    if (state.info) {
      $('#drop-hint').textContent = t('maxSize', {size: bytes(state.info.maxUploadBytes)});
      showFuture($('#text-form'));
      $('#jobs-hint').textContent = t(state.info.jobList ? 'jobsServer' : 'jobsLocal');
      fillSelect($('#text-font'), state.info.fonts, f => f.replace(/_/g, ' ').toLowerCase().replace(/^./, c => c.toUpperCase()));
    }
    for (const c of state.files) renderCard(c);
    for (const j of state.jobs.values()) renderJob(j);
    updateTextPreview();
    setLive(state.liveMode || '');
  }
  function bytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1).replace(/\.0$/, '') + ' GB';
    if (n >= 1 << 20) return Math.round(n / (1 << 20)) + ' MB';
    if (n >= 1 << 10) return Math.round(n / (1 << 10)) + ' KB';
    return n + ' B';
  }
  function when(s) {
    const d = new Date(s);
    if (isNaN(d)) return '';
    // Seconds only when the time has some (a publish time picked to the second).
    return d.toLocaleString(state.lang === 'ru' ? 'ru-RU' : 'en-GB', {dateStyle: 'medium', timeStyle: d.getSeconds() ? 'medium' : 'short'});
  }
  // chars counts user-perceived characters, as the server does.
  function chars(s) {
    if (window.Intl && Intl.Segmenter) {
      let n = 0;
      for (const _ of new Intl.Segmenter().segment(s)) n++; // eslint-disable-line no-unused-vars
      return n;
    }
    return Array.from(s).length;
  }
  function announce(msg) {
    const el = $('#announce');
    el.textContent = '';
    setTimeout(() => { el.textContent = msg; }, 50);
  }
  // errorWords is an API error in words: ours for the code, the server's
  // own message when it names a field, and the code itself.
  function errorWords(code, message, field) {
    const known = T.en['err_' + code];
    let s = known ? t('err_' + code) : t('err_other');
    if (message && (!known || code === 'invalid_request' || code === 'unsupported_type' || state.lang === 'en' && code === 'too_large')) s += ' ' + message + (/[.!]$/.test(message) ? '' : '.');
    const bits = [];
    if (field) bits.push(t('field', {field}));
    if (code) bits.push(t('code', {code}));
    return s + (bits.length ? ' (' + bits.join(', ') + ')' : '');
  }

  // ---- API ----
  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.key) h.Authorization = 'Bearer ' + state.key;
    return h;
  }
  async function api(path, opts) {
    opts = opts || {};
    const resp = await fetch(path, {method: opts.method || 'GET', headers: headers(opts.headers), body: opts.body, cache: 'no-store', credentials: 'omit'});
    let body = null;
    try { body = await resp.json(); } catch (_) { body = null; }
    if (resp.status === 401) signedOut(true);
    return {status: resp.status, body};
  }
  function apiError(body, status) {
    const e = (body && body.error) || {};
    return errorWords(e.code || (status === 0 ? 'network' : 'other'), e.message, e.field);
  }

  // ---- sign in ----
  async function start() {
    let lang = localStorage.getItem(LANG);
    if (!lang) lang = (navigator.language || 'en').toLowerCase().startsWith('ru') ? 'ru' : 'en';
    setLang(lang);
    let r;
    try {
      r = await api('/v1/info');
    } catch (e) {
      $('#loading').hidden = true;
      $('#fatal').hidden = false;
      $('#fatal').textContent = t('err_network');
      return;
    }
    $('#loading').hidden = true;
    if (r.status === 200) {
      ready(r.body);
    } else if (r.status !== 401) {
      $('#fatal').hidden = false;
      $('#fatal').textContent = apiError(r.body, r.status);
    }
  }
  function signedOut(expired) {
    const hadKey = !!state.key;
    state.key = '';
    sessionStorage.removeItem(KEY);
    stopStream();
    $('#app').hidden = true;
    $('#signout').hidden = true;
    $('#signin').hidden = false;
    $('#signin-error').textContent = expired && hadKey ? t('keyExpired') : '';
    $('#key').focus();
  }
  async function signIn(ev) {
    ev.preventDefault();
    const key = $('#key').value.trim();
    const err = $('#signin-error');
    if (!key) { err.textContent = t('keyNeeded'); $('#key').focus(); return; }
    state.key = key;
    const r = await fetch('/v1/info', {headers: headers(), cache: 'no-store', credentials: 'omit'}).catch(() => null);
    if (!r || r.status === 401) {
      state.key = '';
      err.textContent = r ? t('keyWrong') : t('err_network');
      $('#key').select();
      return;
    }
    const body = await r.json().catch(() => null);
    if (r.status !== 200 || !body) { state.key = ''; err.textContent = apiError(body, r.status); return; }
    sessionStorage.setItem(KEY, key);
    err.textContent = '';
    $('#key').value = '';
    ready(body);
  }
  function ready(info) {
    state.info = info;
    $('#signin').hidden = true;
    $('#app').hidden = false;
    $('#signout').hidden = !info.auth;
    setLang(state.lang);
    loadJobs(); // follows the jobs' events itself with a server-side list
    if (!info.jobList) follow();
    $('#main').focus();
  }

  // ---- new statuses: files ----
  function kindOf(file) {
    const m = (file.type || '').split('/')[0];
    if (m === 'image' || m === 'video' || m === 'audio') return m;
    return 'other';
  }
  function fillSelect(sel, values, label) {
    const cur = sel.value;
    sel.textContent = '';
    for (const v of values) {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = label(v);
      sel.appendChild(o);
    }
    if (values.includes(cur)) sel.value = cur;
  }
  function addFiles(list) {
    for (const file of list) {
      const el = $('#file-tpl').content.firstElementChild.cloneNode(true);
      const c = {file, el, kind: kindOf(file), url: URL.createObjectURL(file), status: 'new', error: '', progress: 0};
      const id = 'f' + Math.random().toString(36).slice(2, 10);
      for (const [sel, name] of [['.caption', 'caption'], ['.crop', 'crop'], ['.fit', 'fit'], ['.color', 'color'], ['.participants', 'participants'], ['.account', 'account'], ['.when', 'when']]) {
        const input = $(sel, el);
        input.id = id + '-' + name;
        input.previousElementSibling.htmlFor = input.id;
      }
      $('.caption', el).setAttribute('aria-describedby', id + '-count');
      $('.count', el).id = id + '-count';
      const thumb = $('.thumb', el);
      let media;
      if (c.kind === 'image') {
        media = document.createElement('img');
        media.alt = '';
      } else if (c.kind === 'video') {
        media = document.createElement('video');
        media.muted = true;
        media.preload = 'metadata';
      } else {
        media = document.createElement('div');
        media.className = 'thumb-icon';
        media.textContent = c.kind === 'audio' ? '♪' : '?';
      }
      if (media.tagName !== 'DIV') media.src = c.url;
      thumb.appendChild(media);
      $('.caption', el).addEventListener('input', () => renderCard(c));
      $('.color', el).addEventListener('input', () => renderCard(c));
      $('.remove', el).addEventListener('click', () => removeCard(c, true));
      translate(el);
      state.files.push(c);
      $('#files').appendChild(el);
      renderCard(c);
    }
    $('#send-actions').hidden = state.files.length === 0;
  }
  function removeCard(c, focus) {
    URL.revokeObjectURL(c.url);
    c.el.remove();
    state.files = state.files.filter(x => x !== c);
    $('#send-actions').hidden = state.files.length === 0;
    if (focus) $('#pick-label').focus();
  }
  function renderCard(c) {
    const el = c.el, info = state.info || {maxCaption: 1024, crops: [], videoFits: []};
    $('.name', el).textContent = c.file.name;
    $('.size', el).textContent = bytes(c.file.size);
    $('.kind', el).textContent = t('kind_' + c.kind);
    el.dataset.kind = c.kind;
    el.dataset.status = c.status;
    translate(el);
    fillSelect($('.crop', el), info.crops, v => t('crop_' + v));
    fillSelect($('.fit', el), info.videoFits, v => t('fit_' + v));
    // Options of other kinds are hidden; unknown types show all.
    $('.opt-caption', el).hidden = c.kind === 'audio';
    $('.opt-crop', el).hidden = !(c.kind === 'image' || c.kind === 'other');
    $('.opt-fit', el).hidden = !(c.kind === 'video' || c.kind === 'other');
    $('.opt-color', el).hidden = !(c.kind === 'audio' || c.kind === 'other');
    showFuture(el);
    const n = chars($('.caption', el).value);
    const count = $('.count', el);
    count.textContent = t('count', {n, max: info.maxCaption}) + (n > info.maxCaption ? ' · ' + t('tooLong', {max: info.maxCaption}) : '');
    count.classList.toggle('over', n > info.maxCaption);
    const thumb = $('.thumb-icon', el);
    if (thumb && c.kind === 'audio') thumb.style.backgroundColor = $('.color', el).value;
    const p = $('.progress', el);
    p.hidden = c.status !== 'uploading';
    p.value = c.progress;
    const st = $('.file-state', el);
    st.textContent = c.status === 'uploading' ? t('uploading', {pct: c.progress}) : c.status === 'waiting' ? t('waitingTurn') : '';
    $('.error', el).textContent = c.error;
    for (const input of el.querySelectorAll('textarea, input, select, button')) input.disabled = c.status === 'uploading' || c.status === 'waiting';
  }
  // Accounts and publish times appear only when the server offers them
  // (GET /v1/info: accounts, scheduling). Their fields are sent as
  // account and publishAt (RFC 3339).
  function accounts() {
    const list = (state.info && Array.isArray(state.info.accounts)) ? state.info.accounts : [];
    return list.map(a => typeof a === 'string' ? {id: a, name: a} : {id: String(a.id), name: String(a.name || a.id)});
  }
  function showFuture(root) {
    const accs = accounts(), sched = !!(state.info && state.info.scheduling);
    for (const box of root.querySelectorAll('.opt-account')) box.hidden = accs.length === 0;
    for (const box of root.querySelectorAll('.opt-when')) box.hidden = !sched;
    for (const sel of root.querySelectorAll('select.account')) {
      const names = new Map(accs.map(a => [a.id, a.name]));
      fillSelect(sel, accs.map(a => a.id), id => names.get(id));
    }
  }
  function futureFields(root) {
    const f = {};
    if (accounts().length) f.account = $('select.account', root).value;
    const when = $('input.when', root);
    if (state.info && state.info.scheduling && when.value) {
      const d = new Date(when.value);
      if (!isNaN(d)) f.publishAt = d.toISOString();
    }
    return f;
  }
  function participants(v) {
    return v.split(/[,;\n]/).map(s => s.trim()).filter(Boolean).map(s => {
      const digits = s.replace(/[\s()+-]/g, '');
      return /^\d+$/.test(digits) ? digits + '@c.us' : s;
    });
  }
  function cardForm(c) {
    const el = c.el, fd = new FormData();
    const caption = $('.caption', el).value;
    if (caption && c.kind !== 'audio') fd.append('caption', caption);
    for (const p of participants($('.participants', el).value)) fd.append('participants', p);
    if (c.kind === 'audio') fd.append('backgroundColor', $('.color', el).value.toUpperCase());
    if (c.kind === 'image') fd.append('crop', $('.crop', el).value);
    if (c.kind === 'video') fd.append('videoFit', $('.fit', el).value);
    const future = futureFields(el);
    for (const k of Object.keys(future)) fd.append(k, future[k]);
    fd.append('file', c.file, c.file.name);
    return fd;
  }
  async function sendAll() {
    const todo = state.files.filter(c => c.status === 'new' || c.status === 'error');
    const max = (state.info && state.info.maxCaption) || 1024;
    for (const c of todo) {
      if (chars($('.caption', c.el).value) > max) {
        c.error = t('tooLong', {max});
        renderCard(c);
        continue;
      }
      c.status = 'waiting';
      c.error = '';
      renderCard(c);
    }
    const queue = state.files.filter(c => c.status === 'waiting');
    const workers = [];
    for (let i = 0; i < UPLOADS_AT_ONCE; i++) {
      workers.push((async () => {
        while (queue.length) await upload(queue.shift());
      })());
    }
    await Promise.all(workers);
  }
  // upload posts one card with XMLHttpRequest, for its upload progress.
  function upload(c) {
    return new Promise(resolve => {
      const xhr = new XMLHttpRequest();
      c.status = 'uploading';
      c.progress = 0;
      renderCard(c);
      xhr.open('POST', '/v1/statuses');
      if (state.key) xhr.setRequestHeader('Authorization', 'Bearer ' + state.key);
      xhr.responseType = 'json';
      xhr.upload.addEventListener('progress', e => {
        if (!e.lengthComputable) return;
        c.progress = Math.floor(100 * e.loaded / e.total);
        $('.progress', c.el).value = c.progress;
        $('.file-state', c.el).textContent = t('uploading', {pct: c.progress});
      });
      xhr.addEventListener('load', () => {
        const body = xhr.response;
        if (xhr.status === 202 && body && body.id) {
          // The answer has the id and state; the account and publish
          // time shown until the server's record comes are the form's.
          addJob(body.id, Object.assign({id: body.id, state: body.state, name: c.file.name, options: {}, created: new Date().toISOString()}, futureFields(c.el)), true);
          announce(t('uploaded', {id: body.id}));
          const next = c.el.nextElementSibling || c.el.previousElementSibling;
          const hadFocus = c.el.contains(document.activeElement);
          removeCard(c, false);
          if (hadFocus) (next ? $('textarea, input', next) : $('#pick-label')).focus();
        } else {
          if (xhr.status === 401) signedOut(true);
          c.status = 'error';
          c.error = apiError(body, xhr.status);
          renderCard(c);
        }
        resolve();
      });
      for (const ev of ['error', 'abort', 'timeout']) {
        xhr.addEventListener(ev, () => {
          c.status = 'error';
          c.error = t('err_network');
          renderCard(c);
          resolve();
        });
      }
      xhr.send(cardForm(c));
    });
  }

  // ---- text status ----
  const FONT_CLASS = {SERIF: 'f-serif', SANS_SERIF: 'f-sans', NORICAN_REGULAR: 'f-norican', BRYNDAN_WRITE: 'f-bryndan', OSWALD_HEAVY: 'f-oswald'};
  function textColorOK() {
    return $('#text-color').value.toLowerCase() !== '#ffffff';
  }
  function updateTextPreview() {
    const body = $('#text-body').value;
    const max = (state.info && state.info.maxText) || 500;
    const n = chars(body);
    const count = $('#text-count');
    count.textContent = t('count', {n, max}) + (n > max ? ' · ' + t('tooLong', {max}) : '');
    count.classList.toggle('over', n > max);
    const prev = $('#text-preview');
    prev.style.backgroundColor = $('#text-color').value;
    prev.className = 'phone text-preview ' + (FONT_CLASS[$('#text-font').value] || '');
    const span = $('#text-preview-body');
    span.textContent = body || t('previewEmpty');
    span.classList.toggle('placeholder', !body);
    const white = !textColorOK();
    $('#text-color-error').textContent = white ? t('whiteRefused') : '';
    $('#text-color').setAttribute('aria-invalid', white ? 'true' : 'false');
    $('#text-send').disabled = white || n > max;
  }
  async function sendText(ev) {
    ev.preventDefault();
    const err = $('#text-error');
    const text = $('#text-body').value;
    if (!text.trim()) { err.textContent = t('textEmpty'); $('#text-body').focus(); return; }
    if (!textColorOK()) { $('#text-color').focus(); return; }
    const req = {text, backgroundColor: $('#text-color').value.toUpperCase(), font: $('#text-font').value};
    const ps = participants($('#text-participants').value);
    if (ps.length) req.participants = ps;
    Object.assign(req, futureFields($('#text-form')));
    $('#text-send').disabled = true;
    let r;
    try {
      r = await api('/v1/statuses', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(req)});
    } catch (_) {
      r = {status: 0, body: null};
    }
    updateTextPreview();
    if (r.status === 202 && r.body && r.body.id) {
      err.textContent = '';
      addJob(r.body.id, Object.assign({id: r.body.id, state: r.body.state, options: req, created: new Date().toISOString()}, futureFields($('#text-form'))), true);
      $('#text-body').value = '';
      updateTextPreview();
      announce(t('textSent'));
    } else {
      err.textContent = apiError(r.body, r.status);
    }
  }

  // ---- jobs ----
  function storedIds() {
    try {
      const ids = JSON.parse(localStorage.getItem(JOBS) || '[]');
      return Array.isArray(ids) ? ids.filter(id => typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id)) : [];
    } catch (_) {
      return [];
    }
  }
  function saveIds() {
    localStorage.setItem(JOBS, JSON.stringify(Array.from(state.jobs.keys()).slice(0, MAX_JOBS)));
  }
  async function loadJobs() {
    if (state.info.jobList) {
      // The server's list, newest first: GET /v1/statuses gives an array
      // or {jobs: [...]}.
      const r = await api('/v1/statuses?limit=' + MAX_JOBS).catch(() => null);
      const list = r && r.status === 200 && r.body ? (Array.isArray(r.body) ? r.body : r.body.jobs || []) : [];
      for (const job of list.slice().reverse()) if (job && job.id) addJob(job.id, job, false);
      follow();
      return;
    }
    for (const id of storedIds().reverse()) {
      if (!state.jobs.has(id)) addJob(id, {id, state: ''}, false);
    }
    if (!state.info.events) for (const id of state.jobs.keys()) refresh(id);
  }
  function addJob(id, job, fresh) {
    let j = state.jobs.get(id);
    if (!j) {
      const el = $('#job-tpl').content.firstElementChild.cloneNode(true);
      el.dataset.id = id;
      j = {job, el, shown: ''};
      $('.forget', el).addEventListener('click', () => forget(id));
      $('.cancel', el).addEventListener('click', () => cancelJob(id));
      $('.delete', el).addEventListener('click', () => confirmDelete(id, true));
      $('.delete-no', el).addEventListener('click', () => confirmDelete(id, false));
      $('.delete-yes', el).addEventListener('click', () => cancelJob(id));
      translate(el);
      // Newest first: Map order follows insertion, so rebuild it.
      state.jobs = new Map([[id, j], ...state.jobs]);
      $('#jobs').prepend(el);
      while (state.jobs.size > MAX_JOBS) forget(Array.from(state.jobs.keys()).pop());
    }
    // The server's records carry updated; an older one, or the page's own
    // record of a job it just sent (the answer to the POST can come after
    // the stream has told that the job is posted), does not undo a newer.
    const cur = j.job, stale = !job.missing && cur.updated && (!job.updated || Date.parse(job.updated) < Date.parse(cur.updated));
    j.job = stale ? Object.assign({}, job, cur) : Object.assign({}, cur, job);
    renderJob(j);
    $('#jobs-empty').hidden = state.jobs.size > 0;
    if (fresh) {
      saveIds();
      if (!state.info.jobList) follow(); // the stream now covers this job too
    }
  }
  function forget(id) {
    const j = state.jobs.get(id);
    if (!j) return;
    j.el.remove();
    state.jobs.delete(id);
    saveIds();
    $('#jobs-empty').hidden = state.jobs.size > 0;
  }
  function mediaKind(job) {
    const u = (job.key || job.url || '').toLowerCase().split('?')[0];
    if (/\.(jpe?g|png|webp)$/.test(u)) return 'img';
    if (/\.(mp4|mov|webm)$/.test(u)) return 'video';
    if (/\.(mp3|wav|ogg|m4a)$/.test(u) || job.method === 'sendVoiceStatus') return 'audio';
    if (job.method === 'sendMediaStatus') return 'img';
    return '';
  }
  function renderJob(j) {
    const job = j.job, el = j.el, o = job.options || {};
    const st = job.state || 'unknown';
    el.dataset.state = st;
    translate(el);
    const isText = !!o.text;
    $('.name', el).textContent = isText ? t('textStatus') : (job.name || job.id);
    $('.state', el).textContent = job.missing ? t('state_unknown') : t('state_' + st);
    $('.state', el).dataset.state = st;
    const order = ['queued', 'preparing', 'storing', 'posting', 'posted'];
    const at = order.indexOf(st);
    for (const li of el.querySelectorAll('.steps li')) {
      const i = order.indexOf(li.dataset.step);
      li.className = st === 'failed' ? 'failed' : i < at || st === 'posted' || st === 'deleted' ? 'done' : i === at ? 'now' : '';
    }
    $('.caption-line', el).textContent = isText ? '' : (o.caption || '');
    const meta = [];
    if (job.created) meta.push(t('created', {time: when(job.created)}));
    if (job.account) meta.push(t('onAccount', {account: job.account}));
    meta.push(job.id);
    $('.meta', el).textContent = meta.join(' · ');
    const del = [];
    const final = st === 'posted' || st === 'failed' || st === 'canceled' || st === 'deleted';
    if (job.publishAt && !final) del.push(t('scheduledFor', {time: when(job.publishAt)}));
    if (job.postedAt) del.push(t('postedAt', {time: when(job.postedAt)}));
    if (job.canceledAt) del.push(t('canceledAt', {time: when(job.canceledAt)}));
    if (job.deletedAt) del.push(t('deletedAt', {time: when(job.deletedAt)}));
    if (job.dryRun) del.push(t('dryRun'));
    else if (job.idMessage) del.push(t('idMessage', {id: job.idMessage}));
    if (job.outcomeUnknown) del.push(t('outcomeUnknown'));
    if (job.linkExpires && !final) del.push(t('linkExpires', {time: when(job.linkExpires)}));
    $('.delivery', el).textContent = del.join('\n'); // one a line (white-space: pre-line)
    $('.error', el).textContent = job.missing ? t('notFound') : job.errorCode ? errorWords(job.errorCode, state.lang === 'en' ? job.error : '', '') : '';
    const canCancel = !!(state.info && state.info.cancel) && !job.missing;
    $('.cancel', el).hidden = !canCancel || final || st === 'unknown' || st === 'posting';
    // A posted status can be deleted from WhatsApp, after a confirm step.
    const deletable = canCancel && st === 'posted';
    if (!deletable) j.confirming = false;
    $('.delete', el).hidden = !deletable || !!j.confirming;
    $('.confirm-delete', el).hidden = !deletable || !j.confirming;
    renderResult(j);
    if (j.shown && j.shown !== st && st !== 'unknown') {
      announce(t('announce', {name: $('.name', el).textContent, state: t('state_' + st)}));
    }
    j.shown = st;
  }
  // renderResult shows the prepared file (or the text as it will look) once
  // there is one; the element is made once per link.
  function renderResult(j) {
    const job = j.job, box = $('.result', j.el), o = job.options || {};
    if (o.text) {
      let p = $('.text-preview', box);
      if (!p) {
        p = document.createElement('div');
        p.setAttribute('role', 'img');
        box.appendChild(p);
      }
      p.className = 'phone text-preview small ' + (FONT_CLASS[o.font] || '');
      p.style.backgroundColor = /^#[0-9a-fA-F]{6}$/.test(o.backgroundColor || '') ? o.backgroundColor : '#555555';
      p.textContent = o.text;
      p.setAttribute('aria-label', o.text);
      return;
    }
    const url = job.url || '';
    if (!/^https?:\/\//i.test(url) && !url.startsWith('/')) return;
    if (box.dataset.url === url) return;
    box.dataset.url = url;
    box.textContent = '';
    const player = $('.player', j.el), openLine = $('.open-line', j.el);
    player.textContent = '';
    openLine.textContent = '';
    const kind = mediaKind(job);
    if (!kind) return;
    const m = document.createElement(kind);
    if (kind === 'img') {
      m.alt = (o.caption || job.name || '');
      m.decoding = 'async';
    } else {
      m.controls = true;
      m.preload = 'metadata';
      m.setAttribute('aria-label', job.name || '');
      if (kind === 'video') m.playsInline = true;
    }
    m.className = 'prepared ' + kind;
    m.src = url;
    if (kind === 'audio') {
      // The voice status shows its colour; the player needs the width.
      const icon = document.createElement('div');
      icon.className = 'thumb-icon';
      icon.textContent = '♪';
      if (/^#[0-9a-fA-F]{6}$/.test(o.backgroundColor || '')) icon.style.backgroundColor = o.backgroundColor;
      box.appendChild(icon);
      player.appendChild(m);
    } else {
      box.appendChild(m);
    }
    const a = document.createElement('a');
    a.href = url;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.dataset.i18n = 'openFile';
    a.textContent = t('openFile');
    openLine.appendChild(a);
  }
  // confirmDelete shows (or takes back) the confirm step of deleting a
  // posted status.
  function confirmDelete(id, on) {
    const j = state.jobs.get(id);
    if (!j) return;
    j.confirming = on;
    renderJob(j);
    $(on ? '.delete-no' : '.delete', j.el).focus();
  }
  // cancelJob asks the server to cancel a job not yet posted, or to delete
  // a posted one from WhatsApp (when it offers that: GET /v1/info cancel):
  // both are DELETE /v1/statuses/{id}.
  async function cancelJob(id) {
    const j = state.jobs.get(id);
    const posted = !!j && j.job.state === 'posted';
    if (j) j.confirming = false;
    const r = await api('/v1/statuses/' + encodeURIComponent(id), {method: 'DELETE'}).catch(() => ({status: 0, body: null}));
    if (r.status >= 200 && r.status < 300) {
      if (r.body && r.body.id) addJob(id, r.body, false);
      else refresh(id);
    } else if (j) {
      renderJob(j);
      $('.error', j.el).textContent = t(posted ? 'deleteFailed' : 'cancelFailed', {why: apiError(r.body, r.status)});
    }
  }
  async function refresh(id) {
    let r;
    try {
      r = await api('/v1/statuses/' + encodeURIComponent(id));
    } catch (_) {
      return;
    }
    if (r.status === 200 && r.body) addJob(id, r.body, false);
    else if (r.status === 404) addJob(id, {missing: true}, false);
  }

  // ---- live states: GET /v1/events, read with fetch so that the key
  // goes in a header (EventSource cannot send one) ----
  function setLive(mode) {
    state.liveMode = mode;
    $('#live').textContent = mode ? t(mode) : '';
  }
  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
    clearTimeout(state.pollTimer);
  }
  function follow() {
    stopStream();
    const ids = Array.from(state.jobs.keys()).filter(id => !state.jobs.get(id).job.missing);
    if (state.info && state.info.jobList && state.info.events) { state.lastEventId = ''; stream([]); return; }
    if (!state.info || ids.length === 0) { setLive(''); return; }
    if (!state.info.events) { poll(); return; }
    // A new set of jobs starts afresh: their current records come first.
    state.lastEventId = '';
    stream(ids);
  }
  function poll() {
    setLive('livePoll');
    for (const [id, j] of state.jobs) {
      if (!j.job.missing && !['posted', 'failed', 'canceled', 'deleted'].includes(j.job.state)) refresh(id);
    }
    state.pollTimer = setTimeout(poll, 3000);
  }
  async function stream(ids) {
    const ctl = new AbortController();
    state.stream = ctl;
    const h = headers({Accept: 'text/event-stream'});
    if (state.lastEventId) h['Last-Event-ID'] = state.lastEventId;
    try {
      const url = ids.length ? '/v1/events?jobs=' + ids.map(encodeURIComponent).join(',') : '/v1/events';
      const resp = await fetch(url, {headers: h, signal: ctl.signal, cache: 'no-store', credentials: 'omit'});
      if (resp.status === 401) { signedOut(true); return; }
      if (resp.status !== 200 || !resp.body) throw new Error('events: ' + resp.status);
      setLive('liveOn');
      state.retry = 1000;
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += dec.decode(value, {stream: true});
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          handleEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (state.stream !== ctl) return;
    // Dropped or ended: resume after the last event.
    setLive('liveOff');
    const wait = state.retry;
    state.retry = Math.min(state.retry * 2, 30000);
    setTimeout(() => { if (state.stream === ctl) stream(ids); }, wait);
  }
  function handleEvent(text) {
    let name = 'message', id = '', data = '';
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data += value;
      else if (field === 'retry' && /^\d+$/.test(value)) state.retry = Math.max(1000, Number(value));
    }
    if (id) state.lastEventId = id;
    if (name !== 'job' || !data) return;
    let job;
    try { job = JSON.parse(data); } catch (_) { return; }
    if (job && job.id && (state.jobs.has(job.id) || state.info.jobList)) addJob(job.id, job, false);
  }

  // ---- wiring ----
  function wire() {
    $('#lang').addEventListener('change', e => {
      localStorage.setItem(LANG, e.target.value);
      setLang(e.target.value);
    });
    $('#signin-form').addEventListener('submit', signIn);
    $('#signout').addEventListener('click', () => signedOut(false));
    const input = $('#file-input');
    input.addEventListener('change', () => { addFiles(input.files); input.value = ''; });
    $('#pick-label').addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
    });
    const drop = $('#drop');
    drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', e => {
      e.preventDefault();
      drop.classList.remove('over');
      if (e.dataTransfer && e.dataTransfer.files) addFiles(e.dataTransfer.files);
    });
    $('#send-all').addEventListener('click', sendAll);
    $('#clear-files').addEventListener('click', () => {
      for (const c of state.files.slice()) if (c.status !== 'uploading' && c.status !== 'waiting') removeCard(c, false);
      $('#pick-label').focus();
    });
    for (const id of ['#text-body', '#text-color', '#text-font']) {
      $(id).addEventListener('input', updateTextPreview);
      $(id).addEventListener('change', updateTextPreview);
    }
    $('#text-form').addEventListener('submit', sendText);
  }

  wire();
  start();
})();
