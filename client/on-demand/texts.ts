import type { Texts } from '../core/deploy.js'

const builtIn: Record<string, Texts> = {
  en: { message: 'A new version is available.', reload: 'Reload', later: 'Later' },
  // Simplified Chinese; Traditional readers (zh-TW, zh-HK, zh-Hant) get English rather than a script they do not read.
  zh: { message: '新版本已发布。', reload: '刷新', later: '稍后' },
  ru: { message: 'Доступна новая версия.', reload: 'Обновить', later: 'Позже' },
}

/** The built-in texts for a language tag (`<html lang>`, BCP 47); English when there are none. */
export function textsFor(lang: string): Texts {
  const tag = lang.toLowerCase()
  const [language = ''] = tag.split('-')
  const traditional = language === 'zh' && !/-hans\b/.test(tag) && /-(hant|tw|hk|mo)\b/.test(tag)
  return (!traditional && builtIn[language]) || builtIn.en!
}
