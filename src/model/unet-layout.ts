/** The U-Net as a list of layers, without tensors: the layer ids that configs name are indices into it. */
export interface UNetConfig {
  inputChannels: number;
  outputClasses: number;
  /** Channels of the first level (ngf). */
  baseWidth: number;
  /** Number of poolings (num_downs). */
  depth: number;
}

export type Module =
  | { kind: 'conv'; inChannels: number; outChannels: number }
  | { kind: 'bn'; channels: number }
  | { kind: 'relu' }
  | { kind: 'pool' }
  /** Upsample ×2, then concatenate [encoder skip, upsampled] along channels. */
  | { kind: 'up'; skipFrom: number };

/**
 * The reference generator (UnetGeneratorExpand) as its flat module list: index = the layer id used
 * by every loss option (the reference code's numbering). 4 levels and ngf 16 give 66 modules.
 */
export function unetModules(config: UNetConfig): Module[] {
  const modules: Module[] = [];
  const convBlock = (inChannels: number, outChannels: number) => {
    modules.push({ kind: 'conv', inChannels, outChannels }, { kind: 'bn', channels: outChannels }, { kind: 'relu' });
  };
  const width = (level: number) => config.baseWidth * 2 ** level;
  convBlock(config.inputChannels, width(0));
  const skips: number[] = [];
  let channels = width(0);
  for (let level = 0; level < config.depth; level++) {
    convBlock(channels, width(level));
    convBlock(width(level), width(level));
    skips.push(modules.length - 1);
    modules.push({ kind: 'pool' });
    channels = width(level);
  }
  convBlock(channels, width(config.depth));
  convBlock(width(config.depth), width(config.depth));
  channels = width(config.depth);
  for (let level = config.depth - 1; level >= 0; level--) {
    modules.push({ kind: 'up', skipFrom: skips[level] });
    convBlock(width(level) + channels, width(level));
    convBlock(width(level), width(level));
    channels = width(level);
  }
  modules.push({ kind: 'conv', inChannels: channels, outChannels: config.outputClasses });
  return modules;
}

/** The layer ids of the decoder's convolutions and BatchNorms, from the first upsampling to the output layer. */
export function decoderLayers(modules: Module[]): number[] {
  return layersAfter(
    modules,
    modules.findIndex((module) => module.kind === 'up'),
  );
}

/**
 * The convolutions and BatchNorms below the encoder's first `levels` levels: every one after its
 * `levels`-th pooling (the deeper encoder levels, the bottleneck, the decoder, the output layer).
 */
export function layersBelowLevels(modules: Module[], levels: number): number[] {
  const poolings = modules.flatMap((module, index) => (module.kind === 'pool' ? [index] : []));
  return layersAfter(modules, poolings[levels - 1]);
}

function layersAfter(modules: Module[], start: number): number[] {
  return modules.flatMap((module, index) =>
    index > start && (module.kind === 'conv' || module.kind === 'bn') ? [index] : [],
  );
}
