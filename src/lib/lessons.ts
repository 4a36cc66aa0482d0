import { getCollection, type CollectionEntry } from 'astro:content';
import { isWidgetName } from './widgetNames';

export type Lesson = CollectionEntry<'lessons'>;

/**
 * All published lessons in curriculum order. Fails the build if two share an `order`, if a prerequisite is not an
 * earlier lesson, or if a lesson lists a widget the site does not have.
 */
export async function orderedLessons(): Promise<Lesson[]> {
  const lessons = (await getCollection('lessons', ({ data }) => !data.draft)).sort(
    (a, b) => a.data.order - b.data.order,
  );
  for (let i = 1; i < lessons.length; i++) {
    if (lessons[i].data.order === lessons[i - 1].data.order) {
      throw new Error(`Lessons "${lessons[i - 1].id}" and "${lessons[i].id}" share order ${lessons[i].data.order}.`);
    }
  }
  const position = new Map(lessons.map((l, i) => [l.id, i]));
  lessons.forEach((lesson, i) => {
    for (const p of lesson.data.prerequisites) {
      if (!((position.get(p) ?? Infinity) < i)) throw new Error(`Lesson "${lesson.id}" lists "${p}" as a prerequisite, which is not an earlier lesson.`);
    }
    for (const w of lesson.data.widgets) if (!isWidgetName(w)) throw new Error(`Lesson "${lesson.id}" lists an unknown widget "${w}".`);
  });
  return lessons;
}

/** URL path of a lesson page. */
export function lessonHref(lesson: Lesson): string {
  return `${import.meta.env.BASE_URL.replace(/\/$/, '')}/lessons/${lesson.id}/`;
}
