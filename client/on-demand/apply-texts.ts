/** The words of the countdown and of the note after an update; each can be replaced through `texts`. */
export interface ApplyTexts {
  /** A mandatory deploy counting down; `{s}` is replaced by the seconds left. */
  countdown: string
  /** A mandatory deploy held by unsaved work. */
  waiting: string
  /** The note after the reload, before the deploy's message: "Updated — New search". */
  updated: string
  /** The link to the deploy's release notes. */
  notes: string
  /** The button that closes the note. */
  dismiss: string
}

const builtIn: Record<'en' | 'zh' | 'ru', ApplyTexts> = {
  en: {
    countdown: 'Updating in {s} s',
    waiting: 'Updating once your changes are saved',
    updated: 'Updated',
    notes: "What's new",
    dismiss: 'OK',
  },
  zh: {
    countdown: '{s} 秒后更新',
    waiting: '保存更改后即更新',
    updated: '已更新',
    notes: '更新内容',
    dismiss: '知道了',
  },
  ru: {
    countdown: 'Обновление через {s} с',
    waiting: 'Обновление после сохранения изменений',
    updated: 'Обновлено',
    notes: 'Что нового',
    dismiss: 'OK',
  },
}

/**
 * The built-in words for `<html lang>`: Chinese only for Simplified Chinese (zh, zh-CN, zh-Hans,
 * zh-SG), never for zh-TW or zh-Hant, which read Traditional; English where there is nothing.
 */
export function applyTextsFor(lang: string): ApplyTexts {
  const tag = lang.toLowerCase()
  if (/^ru\b/.test(tag)) return builtIn.ru
  if (/^zh\b/.test(tag) && !/-(hant|tw|hk|mo)\b/.test(tag)) return builtIn.zh
  return builtIn.en
}
