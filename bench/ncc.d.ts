declare module '@vercel/ncc' {
  export default function ncc(
    entry: string,
    options?: { minify?: boolean; quiet?: boolean; cache?: boolean; target?: string; sourceMap?: boolean },
  ): Promise<{ code: string; assets?: Record<string, { source: string | Buffer }> }>;
}
