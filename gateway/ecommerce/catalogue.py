"""What the test-file generator draws from: goods, platforms, sellers, buyers, addresses, defects.

Plain data, chosen to look like the parcels that cross into Hong Kong from online shops: clothes,
shoes, phone accessories, small electronics, cosmetics, toys and household goods, mostly from
mainland sellers, at a few hundred Hong Kong dollars each. HS codes are 8-digit HKHS-style codes of
the right heading (not a tariff reference).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ADDRESSES",
    "BAD_COUNTRIES",
    "BAD_CURRENCIES",
    "BAD_HS_CODES",
    "BAD_NUMBERS",
    "BAD_TRANSPORT_MODES",
    "BAD_UNITS",
    "BUYER_GIVEN_NAMES",
    "BUYER_SURNAMES",
    "EXPENSIVE_GOODS",
    "GOODS",
    "GOODS_BY_CATEGORY",
    "MACAO_ADDRESSES",
    "SELLERS",
    "Goods",
    "Seller",
]


@dataclass(frozen=True, slots=True)
class Goods:
    category: str
    description: str
    hs_code: str
    unit: str
    unit_value_hkd: tuple[int, int]  # range of one unit's value, HKD
    unit_weight_g: tuple[int, int]  # range of one unit's gross weight, grams
    max_quantity: int = 3


@dataclass(frozen=True, slots=True)
class Seller:
    country: str
    platforms: tuple[str, ...]
    currencies: tuple[str, ...]  # repeated to weigh them
    transport_modes: tuple[str, ...]  # idem
    shops: tuple[tuple[str, str], ...]  # (seller name, goods category or "general")


GOODS: tuple[Goods, ...] = (
    Goods("clothing", "Women's T-shirt, knitted cotton", "61091000", "H87", (39, 160), (150, 250)),
    Goods("clothing", "Men's polo shirt, knitted cotton", "61051000", "H87", (59, 220), (200, 300)),
    Goods("clothing", "Women's dress, knitted synthetic fibres", "61044300", "H87", (89, 420), (250, 450)),
    Goods("clothing", "Men's jeans, cotton denim", "62034200", "H87", (99, 450), (550, 800)),
    Goods("clothing", "Hooded sweatshirt, knitted cotton", "61102000", "H87", (89, 380), (400, 650)),
    Goods("clothing", "Cotton socks, 5 pairs", "61159500", "PR", (19, 79), (40, 60), 5),
    Goods(
        "clothing", "Sports shoes, rubber soles, textile uppers", "64041100", "PR", (159, 899), (600, 1100), 2
    ),
    Goods(
        "clothing", "Handbag, outer surface of textile material", "42022200", "H87", (79, 680), (300, 900), 1
    ),
    Goods("electronics", "Phone case, silicone", "39269090", "H87", (15, 120), (30, 70)),
    Goods("electronics", "Tempered glass screen protector", "70071900", "H87", (9, 60), (20, 40)),
    Goods("electronics", "USB-C charging cable with connectors, 1 m", "85444200", "H87", (15, 99), (40, 80)),
    Goods("electronics", "USB wall charger, 20 W", "85044090", "H87", (39, 199), (60, 120)),
    Goods("electronics", "Wireless Bluetooth earphones", "85183000", "SET", (99, 1290), (80, 200), 1),
    Goods("electronics", "Power bank, lithium-ion, 10000 mAh", "85076000", "H87", (99, 399), (200, 300), 1),
    Goods("electronics", "Smart watch strap, silicone", "91130000", "H87", (19, 129), (20, 50)),
    Goods("beauty", "Lipstick", "33041000", "H87", (59, 320), (30, 60)),
    Goods("beauty", "Face cream, 50 ml", "33049900", "H87", (79, 690), (90, 160)),
    Goods("beauty", "Sheet face masks, box of 10", "33049900", "SET", (49, 199), (200, 300)),
    Goods("beauty", "Eau de toilette, 50 ml", "33030000", "H87", (199, 980), (200, 350), 1),
    Goods("toys", "Plush toy, 30 cm", "95030070", "H87", (39, 199), (150, 300)),
    Goods("toys", "Plastic building brick set", "95030040", "SET", (99, 1280), (400, 2000), 1),
    Goods("toys", "Remote-control toy car", "95030030", "H87", (129, 499), (500, 1200), 1),
    Goods("toys", "Board game", "95049000", "SET", (99, 399), (600, 1200), 1),
    Goods("home", "Stainless steel vacuum flask, 500 ml", "96170000", "H87", (59, 269), (300, 450)),
    Goods("home", "Sunglasses", "90041000", "H87", (49, 890), (40, 90), 2),
    Goods("home", "Hair clips, plastic, set of 6", "96151100", "SET", (15, 79), (30, 60)),
    Goods("home", "Paperback book", "49019900", "H87", (49, 199), (250, 500)),
    Goods("home", "Vitamin C gummies, 60 pieces", "21069099", "H87", (69, 249), (150, 250)),
    Goods("home", "Dried mango slices, 500 g", "08045020", "KGM", (39, 99), (520, 560), 2),
    Goods("electronics", "LED desk lamp", "94052190", "H87", (99, 459), (600, 1200), 1),
)
"""Typical parcel goods; values and weights are per unit."""

EXPENSIVE_GOODS: tuple[Goods, ...] = (
    Goods("electronics", "Smartphone, 256 GB", "85171300", "H87", (5200, 12800), (380, 500), 1),
    Goods("electronics", "Laptop computer, 14-inch", "84713000", "H87", (5600, 16800), (1500, 2400), 1),
    Goods("clothing", "Leather handbag, designer brand", "42022100", "H87", (6800, 32000), (800, 1500), 1),
    Goods(
        "home",
        "Wrist watch, automatic, stainless steel case",
        "91021100",
        "H87",
        (5400, 45000),
        (150, 300),
        1,
    ),
    Goods("electronics", "Mirrorless digital camera body", "85258900", "H87", (5800, 19800), (600, 900), 1),
)
"""Goods worth more than the low-value threshold on their own (for over-threshold consignments)."""

_CN_SHOPS = (
    ("Shenzhen Xinghe Electronic Technology Co., Ltd.", "electronics"),
    ("Guangzhou Yuexiu Meiyi Garment Trading Co., Ltd.", "clothing"),
    ("Yiwu Jiahui E-commerce Co., Ltd.", "general"),
    ("Dongguan Hengtai Digital Accessories Co., Ltd.", "electronics"),
    ("Hangzhou Ruixiang Cosmetics Trading Co., Ltd.", "beauty"),
    ("Shantou Chenghai Tianyi Toys Co., Ltd.", "toys"),
    ("Xiamen Baisheng Household Products Co., Ltd.", "home"),
    ("Shenzhen Huaqiang Lingdong Trading Co., Ltd.", "electronics"),
    ("Guangzhou Baiyun Qianmei Shoes and Apparel Co., Ltd.", "clothing"),
    ("Ningbo Haishu Lianfa Import & Export Co., Ltd.", "general"),
)

SELLERS: tuple[tuple[Seller, int], ...] = (
    (
        Seller(
            "CN",
            ("Taobao", "Tmall", "JD.com", "Pinduoduo", "AliExpress", "Shein", "Temu"),
            ("CNY", "CNY", "CNY", "HKD", "USD"),
            ("road", "road", "road", "air", "post", "sea"),
            _CN_SHOPS,
        ),
        70,
    ),
    (
        Seller(
            "HK",
            ("HKTVmall", "Carousell", "Shopify store"),
            ("HKD",),
            ("road", "road", "air", "post"),
            (
                ("Toy Kingdom (Hong Kong) Limited", "toys"),
                ("Wing On Digital Mall Limited", "electronics"),
                ("Mong Kok Sneaker House Limited", "clothing"),
            ),
        ),
        5,
    ),
    (
        Seller(
            "US",
            ("Amazon", "eBay", "iHerb"),
            ("USD",),
            ("air", "air", "post"),
            (
                ("Anker Direct US LLC", "electronics"),
                ("Golden Gate Outfitters Inc.", "clothing"),
                ("Evergreen Vitamins LLC", "home"),
            ),
        ),
        10,
    ),
    (
        Seller(
            "JP",
            ("Rakuten Ichiba", "Amazon Japan", "Mercari"),
            ("USD", "HKD"),
            ("air", "post"),
            (
                ("Cosme Plaza Osaka K.K.", "beauty"),
                ("Tokyo Hobby Base Co., Ltd.", "toys"),
                ("Shibuya Select Apparel K.K.", "clothing"),
            ),
        ),
        8,
    ),
    (
        Seller(
            "KR",
            ("Coupang", "Gmarket", "Olive Young Global"),
            ("USD",),
            ("air", "post"),
            (("Seoul Beauty Lab Co., Ltd.", "beauty"), ("Hanbit Fashion Co., Ltd.", "clothing")),
        ),
        5,
    ),
    (
        Seller(
            "GB",
            ("ASOS", "eBay", "Amazon UK"),
            ("USD", "HKD"),
            ("air", "post"),
            (("Camden Vintage Clothing Ltd", "clothing"), ("Northern Lights Books and Gifts Ltd", "home")),
        ),
        2,
    ),
)
"""Sellers by country, with a weight for how often each country appears. A Hong Kong seller ships
out (to Macao); every other parcel comes into Hong Kong."""

GOODS_BY_CATEGORY: dict[str, tuple[Goods, ...]] = {
    "general": GOODS,
    **{
        category: tuple(g for g in GOODS if g.category == category)
        for category in sorted({g.category for g in GOODS})
    },
}

BUYER_SURNAMES = (
    "Chan", "Wong", "Lee", "Cheung", "Lau", "Ng", "Ho", "Leung", "Lam", "Tsang", "Yip", "Chow", "Kwok",
    "Tang", "Fung", "Mak", "Cheng", "Yeung", "Siu", "Poon",
)  # fmt: skip
BUYER_GIVEN_NAMES = (
    "Tai Man", "Siu Ming", "Ka Yan", "Wing Sze", "Chi Keung", "Hoi Ling", "Ka Ho", "Mei Ling", "Wai Kit",
    "Pui Shan", "Chun Hei", "Tsz Ching", "Hiu Tung", "Man Kit", "Sze Wing", "Kwok Wai",
)  # fmt: skip

ADDRESSES: tuple[str, ...] = (
    "Block {block}, Laguna City, 8 Cha Kwo Ling Road, Kwun Tong, Kowloon",
    "Tower {block}, Taikoo Shing, 18 Taikoo Shing Road, Quarry Bay, Hong Kong",
    "Block {block}, Mei Foo Sun Chuen, 1 Broadway, Lai Chi Kok, Kowloon",
    "Tower {block}, The Visionary, 1 Ying Hei Road, Tung Chung, Lantau Island",
    "Block {block}, Sha Tin Wai Estate, Sha Tin Wai Road, Sha Tin, New Territories",
    "Tower {block}, Metro Town, 8 King Ling Road, Tseung Kwan O, New Territories",
    "Block {block}, Kingswood Villas, 1 Tin Wu Road, Tin Shui Wai, New Territories",
    "Tower {block}, Grand Promenade, 38 Tai Hong Street, Sai Wan Ho, Hong Kong",
    "Block {block}, Whampoa Garden, 8 Shung King Street, Hung Hom, Kowloon",
    "Tower {block}, Park Island, 8 Pak Lai Road, Ma Wan, New Territories",
)
"""Hong Kong estates; a flat and floor are put in front (``Flat 12B, 8/F, ...``)."""

MACAO_ADDRESSES: tuple[str, ...] = (
    "Edf. Lei Pou, {block} andar, Rua de Pequim 126, Macau",
    "Edf. Nam Fong, {block} andar, Avenida do Infante D. Henrique 48, Macau",
    "Edf. Kam Lung, Bloco {block}, Rua de Bragança 15, Taipa, Macau",
)

# ---- defects: realistic mistakes, each refused by the validator ----------------------------------

BAD_HS_CODES = ("6109", "61.09.10", "77010000", "99050000", "6109100A")
BAD_UNITS = ("PCS", "PIECE", "BOX", "UNIT", "pcs")
BAD_COUNTRIES = ("UK", "CHN", "XX", "PRC", "EN")
BAD_CURRENCIES = ("RMB", "US$", "HK$", "NTD")
BAD_TRANSPORT_MODES = ("courier", "express", "truck", "ship")
BAD_NUMBERS: tuple[tuple[str, str], ...] = (
    ("value", "12,50"),  # decimal comma
    ("value", "0"),  # a "free gift" line
    ("value", "-15"),  # a refund line
    ("quantity", "two"),
    ("gross_weight_kg", "0"),
    ("value", "1.234"),  # three decimal places
)
"""(column, bad value) pairs."""
