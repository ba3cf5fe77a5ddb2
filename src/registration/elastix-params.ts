/**
 * The parameter maps longiseg gives elastix (CLI and WebAssembly alike). Mattes mutual information
 * throughout, so that sessions whose contrast changes (infant WM/GM reversal) still register;
 * a fixed random seed, so that runs repeat.
 */
export type ParameterMap = Record<string, string | number | boolean | (string | number)[]>;

const common: ParameterMap = {
  FixedInternalImagePixelType: 'float',
  MovingInternalImagePixelType: 'float',
  FixedImageDimension: 3,
  MovingImageDimension: 3,
  UseDirectionCosines: true,
  Registration: 'MultiResolutionRegistration',
  Interpolator: 'BSplineInterpolator',
  BSplineInterpolationOrder: 1,
  ResampleInterpolator: 'FinalBSplineInterpolator',
  FinalBSplineInterpolationOrder: 3,
  Resampler: 'DefaultResampler',
  FixedImagePyramid: 'FixedSmoothingImagePyramid',
  MovingImagePyramid: 'MovingSmoothingImagePyramid',
  Optimizer: 'AdaptiveStochasticGradientDescent',
  Metric: 'AdvancedMattesMutualInformation',
  NumberOfHistogramBins: 32,
  ImageSampler: 'RandomCoordinate',
  NewSamplesEveryIteration: true,
  HowToCombineTransforms: 'Compose',
  DefaultPixelValue: 0,
  WriteResultImage: false,
  ResultImageFormat: 'nii.gz',
  RandomSeed: 121212,
};

export const AFFINE_MAP: ParameterMap = {
  ...common,
  Transform: 'AffineTransform',
  AutomaticScalesEstimation: true,
  AutomaticTransformInitialization: true,
  AutomaticTransformInitializationMethod: 'CenterOfGravity',
  NumberOfResolutions: 3,
  MaximumNumberOfIterations: 250,
  NumberOfSpatialSamples: 4096,
};

export const BSPLINE_MAP: ParameterMap = {
  ...common,
  Transform: 'BSplineTransform',
  FinalGridSpacingInPhysicalUnits: 20,
  NumberOfResolutions: 3,
  MaximumNumberOfIterations: 400,
  NumberOfSpatialSamples: 8192,
};

/** An elastix transform file for a fixed affine (the initial transform of the B-spline stage). */
export function affineTransformFile(parameters: number[]): ParameterMap {
  return {
    Transform: 'AffineTransform',
    NumberOfParameters: 12,
    TransformParameters: parameters,
    InitialTransformParametersFileName: 'NoInitialTransform',
    HowToCombineTransforms: 'Compose',
    FixedImageDimension: 3,
    MovingImageDimension: 3,
    FixedInternalImagePixelType: 'float',
    MovingInternalImagePixelType: 'float',
    CenterOfRotationPoint: [0, 0, 0],
    UseDirectionCosines: true,
  };
}
