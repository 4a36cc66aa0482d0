import { defineCollection, z } from 'astro:content';
import { glob } from 'astro/loaders';

/** Lessons are MDX files in content/lessons/; their frontmatter is checked here at build time. */
const lessons = defineCollection({
  loader: glob({ pattern: '**/*.mdx', base: './content/lessons' }),
  schema: z
    .object({
      title: z.string().min(3),
      /** Position in the curriculum (1, 2, …); unique across lessons. */
      order: z.number().int().positive(),
      /** One or two sentences for the home page and the meta description. */
      summary: z.string().min(10).max(300),
      /** Short label for navigation; defaults to the title. */
      short: z.string().optional(),
      /** Estimated reading time in minutes. */
      minutes: z.number().int().positive().optional(),
      /** The interactive widgets the lesson embeds, by data-widget name (src/lib/widgetNames.ts); its header lists them. */
      widgets: z.array(z.string()).default([]),
      /** What the reader should already know: ids of earlier lessons; its header links them. */
      prerequisites: z.array(z.string()).default([]),
      draft: z.boolean().default(false),
    })
    .strict(),
});

export const collections = { lessons };
