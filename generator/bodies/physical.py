"""The physical style's classes: class name -> sampler, in label order (index 0 is `none`,
then these). Each sampler draws an object's solid, size, material, 3-D pose and position;
the kinds it names are rasterised by `generator.shapes`."""

from generator.bodies.blade import sample_blade
from generator.bodies.bullet import sample_bullet
from generator.bodies.button_battery import sample_button_battery
from generator.bodies.coin import sample_coin
from generator.bodies.context import Sampler
from generator.bodies.jewellery import sample_jewellery_clothing
from generator.bodies.magnets import sample_magnets
from generator.bodies.pin_needle import sample_pin_needle
from generator.bodies.shrapnel import sample_shrapnel

SAMPLERS: dict[str, Sampler] = {
    "coin": sample_coin,
    "button_battery": sample_button_battery,
    "magnets": sample_magnets,
    "bullet": sample_bullet,
    "shrapnel": sample_shrapnel,
    "pin_needle": sample_pin_needle,
    "blade": sample_blade,
    "jewellery_clothing": sample_jewellery_clothing,
}
