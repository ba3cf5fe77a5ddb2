// ITK's N4 (the filter ANTs' N4BiasFieldCorrection runs) with the parameters of longiseg's N4 call,
// for reference numbers (make_bias_fixtures.sh): n4_reference INPUT MASK SHRINK OUTPUT_CORRECTED OUTPUT_LOG_FIELD
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkN4BiasFieldCorrectionImageFilter.h"
#include "itkShrinkImageFilter.h"
#include "itkBSplineControlPointImageFilter.h"
#include "itkExpImageFilter.h"
#include "itkDivideImageFilter.h"
#include <cmath>
#include <cstdlib>

using Image = itk::Image<float, 3>;
using Mask = itk::Image<unsigned char, 3>;

int main(int argc, char * argv[])
{
  if (argc < 6) { std::cerr << "usage: n4_reference input mask shrink corrected logfield\n"; return 2; }
  auto input = itk::ReadImage<Image>(argv[1]);
  auto mask = itk::ReadImage<Mask>(argv[2]);
  const unsigned shrink = std::atoi(argv[3]);

  using Shrinker = itk::ShrinkImageFilter<Image, Image>;
  auto shrinkImage = Shrinker::New();
  shrinkImage->SetInput(input);
  shrinkImage->SetShrinkFactors(shrink);
  using MaskShrinker = itk::ShrinkImageFilter<Mask, Mask>;
  auto shrinkMask = MaskShrinker::New();
  shrinkMask->SetInput(mask);
  shrinkMask->SetShrinkFactors(shrink);
  shrinkImage->Update();
  shrinkMask->Update();

  using N4 = itk::N4BiasFieldCorrectionImageFilter<Image, Mask, Image>;
  auto n4 = N4::New();
  n4->SetInput(shrinkImage->GetOutput());
  n4->SetMaskImage(shrinkMask->GetOutput());
  n4->SetMaskLabel(1);
  N4::VariableSizeArrayType iterations(4);
  iterations.Fill(50);
  n4->SetMaximumNumberOfIterations(iterations);
  n4->SetNumberOfFittingLevels(4);
  n4->SetConvergenceThreshold(1e-7);
  // -b [200]: mesh elements per axis from a 200 mm spline distance, control points = elements + order
  N4::ArrayType points;
  const auto size = input->GetLargestPossibleRegion().GetSize();
  for (unsigned d = 0; d < 3; d++)
    points[d] = std::max(1.0, std::ceil((size[d] - 1) * input->GetSpacing()[d] / 200.0)) + 3;
  n4->SetNumberOfControlPoints(points);
  n4->Update();

  // the log bias field on the full-resolution grid, from the control point lattice
  using Lattice = N4::BiasFieldControlPointLatticeType;
  using Reconstructor = itk::BSplineControlPointImageFilter<Lattice, Lattice>;
  auto reconstruct = Reconstructor::New();
  reconstruct->SetInput(n4->GetLogBiasFieldControlPointLattice());
  reconstruct->SetSplineOrder(n4->GetSplineOrder());
  reconstruct->SetSize(input->GetLargestPossibleRegion().GetSize());
  reconstruct->SetOrigin(input->GetOrigin());
  reconstruct->SetSpacing(input->GetSpacing());
  reconstruct->SetDirection(input->GetDirection());
  reconstruct->Update();
  // BSplineControlPointImageFilter gives a vector image of one component: copy it to a scalar image
  auto logField = Image::New();
  logField->CopyInformation(input);
  logField->SetRegions(input->GetLargestPossibleRegion());
  logField->Allocate();
  itk::ImageRegionConstIterator<Lattice> from(reconstruct->GetOutput(), reconstruct->GetOutput()->GetLargestPossibleRegion());
  itk::ImageRegionIterator<Image> to(logField, logField->GetLargestPossibleRegion());
  for (; !from.IsAtEnd(); ++from, ++to) to.Set(from.Get()[0]);
  auto exp = itk::ExpImageFilter<Image, Image>::New();
  exp->SetInput(logField);
  auto divide = itk::DivideImageFilter<Image, Image, Image>::New();
  divide->SetInput1(input);
  divide->SetInput2(exp->GetOutput());
  divide->Update();
  itk::WriteImage(divide->GetOutput(), argv[4]);
  itk::WriteImage(logField, argv[5]);
  std::cout << "iterations per level: " << n4->GetMaximumNumberOfIterations() << " elapsed iterations " << n4->GetElapsedIterations() << " convergence " << n4->GetCurrentConvergenceMeasurement() << "\n";
  return 0;
}
