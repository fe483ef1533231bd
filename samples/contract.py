"""The text of Dossier's sample contract (fictional parties; written for the demo).

A realistic master services agreement with the clauses a reviewer looks for,
some of them deliberately risky (an auto-renewal with a 30-day notice window,
a customer-side convenience termination, a three-year worldwide non-compete)
so the demo's risk review has something to say.
"""

TITLE = "MASTER SERVICES AGREEMENT"

PREAMBLE = (
    'This Master Services Agreement (the "Agreement") is entered into as of March 1, 2025 '
    '(the "Effective Date") by and between Northwind Analytics LLC, a Delaware limited '
    'liability company ("Provider"), and Harbor & Vale Logistics, Inc., a New York '
    'corporation ("Customer"). Provider and Customer are each a "Party" and together the "Parties".'
)

# (article title, [(clause text), ...]) — numbering is added by the renderers.
ARTICLES: list[tuple[str, list[str]]] = [
    (
        "Definitions",
        [
            '"Services" means the data analytics, reporting and support services described in each '
            "Statement of Work executed under this Agreement.",
            '"Deliverables" means all reports, dashboards, models and other materials that Provider '
            "delivers to Customer in performing the Services.",
            '"Confidential Information" means any non-public information disclosed by one Party to '
            "the other that is marked confidential or that a reasonable person would understand to be "
            "confidential, including pricing, customer lists and shipment data.",
        ],
    ),
    (
        "Services",
        [
            "Provider shall perform the Services in a professional and workmanlike manner, in "
            "accordance with generally accepted industry standards and the service levels set out in "
            "Schedule A.",
            "Each Statement of Work shall describe the scope, milestones, Deliverables and fees for "
            "the Services it covers. If a Statement of Work conflicts with this Agreement, this "
            "Agreement prevails unless the Statement of Work expressly states otherwise.",
            "Provider may engage subcontractors to perform the Services only with Customer's prior "
            "written consent, and Provider remains responsible for the acts and omissions of its "
            "subcontractors.",
        ],
    ),
    (
        "Fees and Payment",
        [
            "Customer shall pay Provider a monthly fee of $48,500 (forty-eight thousand five hundred "
            "US dollars) for the Services, plus pre-approved expenses.",
            "Provider shall invoice Customer monthly in arrears. Customer shall pay each undisputed "
            "invoice within forty-five (45) days of receipt.",
            "Late payments bear interest at the lesser of one percent (1%) per month and the maximum "
            "rate permitted by law. Provider may adjust its fees once per calendar year by no more "
            "than five percent (5%) upon sixty (60) days' written notice.",
        ],
    ),
    (
        "Term and Termination",
        [
            "This Agreement commences on the Effective Date and continues for an initial term of "
            'three (3) years (the "Initial Term").',
            "After the Initial Term, this Agreement automatically renews for successive one (1) year "
            "renewal terms unless either Party gives written notice of non-renewal at least thirty "
            "(30) days before the end of the then-current term.",
            "Customer may terminate this Agreement for convenience at any time upon ninety (90) days' "
            "prior written notice to Provider, subject to payment of a termination fee equal to two "
            "(2) months of fees.",
            "Either Party may terminate this Agreement upon written notice if the other Party "
            "materially breaches this Agreement and fails to cure the breach within thirty (30) days "
            "after receiving written notice of it.",
        ],
    ),
    (
        "Confidentiality",
        [
            "Each Party shall hold the other Party's Confidential Information in strict confidence, "
            "use it only to perform or receive the Services, and disclose it only to employees and "
            "advisers who need to know it and are bound by confidentiality obligations at least as "
            "protective as these.",
            "The obligations in this Article survive for five (5) years after the termination or "
            "expiration of this Agreement.",
        ],
    ),
    (
        "Intellectual Property",
        [
            "Provider hereby assigns to Customer all right, title and interest in and to the "
            "Deliverables, including all intellectual property rights in them, upon payment in full.",
            "Provider retains ownership of its pre-existing tools, software and methodologies and "
            "grants Customer a non-exclusive, perpetual, royalty-free license to use them as "
            "incorporated in the Deliverables.",
        ],
    ),
    (
        "Warranties",
        [
            "Provider warrants that the Services will conform to the applicable Statement of Work for "
            "a period of ninety (90) days after delivery. Customer's exclusive remedy for breach of "
            "this warranty is re-performance of the non-conforming Services.",
            "EXCEPT AS EXPRESSLY SET OUT IN THIS AGREEMENT, NEITHER PARTY MAKES ANY OTHER WARRANTY, "
            "EXPRESS OR IMPLIED, INCLUDING ANY WARRANTY OF MERCHANTABILITY OR FITNESS FOR A "
            "PARTICULAR PURPOSE.",
        ],
    ),
    (
        "Limitation of Liability",
        [
            "IN NO EVENT SHALL EITHER PARTY BE LIABLE FOR ANY INDIRECT, INCIDENTAL, CONSEQUENTIAL, "
            "SPECIAL OR PUNITIVE DAMAGES, INCLUDING LOST PROFITS, ARISING OUT OF THIS AGREEMENT.",
            "EACH PARTY'S TOTAL AGGREGATE LIABILITY UNDER THIS AGREEMENT SHALL NOT EXCEED THE FEES "
            "PAID OR PAYABLE BY CUSTOMER IN THE TWELVE (12) MONTHS PRECEDING THE EVENT GIVING RISE TO "
            "THE CLAIM.",
            "The limitations in this Article do not apply to a Party's indemnification obligations, "
            "its breach of Article 5 (Confidentiality), or its gross negligence or wilful misconduct.",
        ],
    ),
    (
        "Indemnification",
        [
            "Provider shall defend, indemnify and hold harmless Customer from and against any "
            "third-party claim alleging that the Deliverables infringe any patent, copyright or "
            "trade secret, and shall pay all damages and costs finally awarded.",
            "Customer shall indemnify Provider against third-party claims arising from data that "
            "Customer supplies in breach of applicable law.",
        ],
    ),
    (
        "Insurance and Audit",
        [
            "Provider shall maintain, at its own cost, commercial general liability insurance of at "
            "least $2,000,000 per occurrence and professional liability insurance of at least "
            "$5,000,000 in the aggregate, and shall provide certificates of insurance on request.",
            "Customer may, once per calendar year and upon fifteen (15) business days' written "
            "notice, audit Provider's records relating to the fees charged under this Agreement.",
        ],
    ),
    (
        "Restrictive Covenants",
        [
            "During the term of this Agreement and for three (3) years thereafter, Provider shall "
            "not, anywhere in the world, provide logistics analytics services to any competitor of "
            "Customer.",
            "During the term of this Agreement and for twelve (12) months thereafter, neither Party "
            "shall solicit for employment any employee of the other Party who was involved in the "
            "Services.",
        ],
    ),
    (
        "General",
        [
            "Neither Party may assign this Agreement without the prior written consent of the other "
            "Party, except that either Party may assign it to a successor in a merger or sale of all "
            "or substantially all of its assets upon written notice.",
            "This Agreement is governed by the laws of the State of New York, without regard to its "
            "conflict of laws rules. The state and federal courts located in New York County, New "
            "York have exclusive jurisdiction over any dispute arising out of this Agreement.",
            "Notices must be in writing and delivered by hand, by recognised courier or by email "
            "with confirmation of receipt to the addresses set out on the signature page.",
            "This Agreement, with its Schedules and Statements of Work, is the entire agreement of "
            "the Parties on its subject matter and supersedes all prior agreements.",
        ],
    ),
]

FEE_TABLE = [
    ["Service", "Monthly fee (USD)", "Service level"],
    ["Shipment analytics", "28,000", "99.5% availability"],
    ["Carrier scorecards", "12,500", "Weekly refresh"],
    ["Support desk", "8,000", "4-hour response"],
]

SIGNATURES = (
    "IN WITNESS WHEREOF, the Parties have executed this Agreement as of the Effective Date.\n"
    "Northwind Analytics LLC — By: Dana Whitfield, Chief Executive Officer\n"
    "Harbor & Vale Logistics, Inc. — By: Marcus Oyelaran, General Counsel"
)
