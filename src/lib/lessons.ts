import { getCollection, type CollectionEntry } from 'astro:content';

export type Lesson = CollectionEntry<'lessons'>;

/** All published lessons in curriculum order; fails the build if two share an `order`. */
export async function orderedLessons(): Promise<Lesson[]> {
  const lessons = (await getCollection('lessons', ({ data }) => !data.draft)).sort(
    (a, b) => a.data.order - b.data.order,
  );
  for (let i = 1; i < lessons.length; i++) {
    if (lessons[i].data.order === lessons[i - 1].data.order) {
      throw new Error(`Lessons "${lessons[i - 1].id}" and "${lessons[i].id}" share order ${lessons[i].data.order}.`);
    }
  }
  return lessons;
}

/** URL path of a lesson page. */
export function lessonHref(lesson: Lesson): string {
  return `${import.meta.env.BASE_URL.replace(/\/$/, '')}/lessons/${lesson.id}/`;
}
